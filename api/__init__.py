"""The HTTP surface (Litestar app, controllers, middleware) and the `ironlog` command line."""
