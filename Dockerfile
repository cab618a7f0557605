# The isms-cycle image: runs the worker (default) or the web app (`python -m web`).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# LibreOffice converts the rendered .docx to PDF; the fonts keep the layout stable.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libreoffice-writer-nogui python3-uno \
        fonts-dejavu \
        fonts-liberation \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md worker.py ./
COPY activities ./activities
COPY cli ./cli
COPY core ./core
COPY devstack ./devstack
COPY doc_templates ./doc_templates
COPY models ./models
COPY web ./web
COPY workflows ./workflows
RUN pip install --no-cache-dir . && rm -rf build *.egg-info

# A non-root user with a writable home: LibreOffice keeps its profile there.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin isms
USER isms
WORKDIR /home/isms

EXPOSE 8000
CMD ["python", "-m", "worker"]
