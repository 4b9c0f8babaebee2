"""The `bare` figure: a minimal FastAPI app with one route, served by uvicorn with the settings
`keygate serve` uses. keygate's own /health (`plain`) is measured against it: what keygate's
stack (request ids, the access log, metrics, the body limit) costs on top of FastAPI's."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
