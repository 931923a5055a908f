FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY coaching coaching
COPY workflows workflows
COPY activities activities
COPY starter starter
COPY migrations migrations
COPY worker.py alembic.ini ./
RUN pip install --no-cache-dir .
USER nobody
CMD ["coach", "worker"]
