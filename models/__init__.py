"""Pydantic models shared by workflows, activities, the web app and the command line."""
