"""What the tests and the benchmarks both need: free ports, a real match-service process, a
temporary copy of the repository, the scale-out stack and the processes it runs.

It lives here, not in a conftest.py or a test module, so a benchmark never imports a test (nor a
test a benchmark) and the conftest.py files hold only fixtures. Installed with the project
(pyproject.toml), so ``python bench/x.py`` imports it from any working directory.
"""
