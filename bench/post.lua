-- wrk script: POST the JSON body read from the file named after `--` on wrk's command line.
--   wrk -t1 -c4 -d10s --latency -s bench/post.lua http://127.0.0.1:8000/predict -- body.json
-- Non-2xx answers are counted by wrk itself ("Non-2xx or 3xx responses").
function init(args)
  local fh = assert(io.open(args[1], "rb"))
  wrk.body = fh:read("*a")
  fh:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
