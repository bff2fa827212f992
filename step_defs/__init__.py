"""pytest-bdd steps, one module per domain; each step calls the library and asserts on its result."""
