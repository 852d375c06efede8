"""The API service: REST + WebSocket over the stack, and the bundled dashboard.

``create_app(settings)`` (``services.api.app``) builds the FastAPI application;
``python -m services.api`` serves it with uvicorn as a supervised service.
"""
