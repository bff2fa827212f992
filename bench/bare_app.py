"""The yardstick for the backend's /health: a bare FastAPI app answering the same body, nothing behind it."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "healthy"}
