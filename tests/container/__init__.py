"""Container tests: the real images under a real Docker engine (`make image-test`)."""
