"""One cell: load, apply the method, train, evaluate, measure."""
