"""One module per server of the stack: start, stop, and how to tell it is up."""
