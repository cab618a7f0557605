# syntax=docker/dockerfile:1.7
# The isms-cycle image: runs the worker (default), the web app (`python -m web`) or `isms`.
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

# Secrets arrive as files (docker-compose.yml `secrets:`, mounted in /run/secrets) named like
# the setting they hold; each becomes that ISMS_ variable of the process it starts, and of no
# other, so no secret sits in the image, the compose environment or `docker inspect`.
COPY --chmod=0755 <<'EOF' /usr/local/bin/isms-secrets
#!/bin/sh
set -eu
for file in "${SECRETS_DIR:-/run/secrets}"/ISMS_*; do
    [ -f "$file" ] || continue
    name=$(basename "$file")
    case "$name" in
        *[!A-Z0-9_]*) echo "isms-secrets: ignoring $file (not a setting name)" >&2; continue ;;
    esac
    value=$(cat "$file")
    export "$name=$value"
done
exec "$@"
EOF

# A non-root user with a writable home: LibreOffice keeps its profile there. The seal key
# (signing) and the web app's state (web) are volumes mounted over these owner-only folders.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin isms \
    && install -d -m 0700 -o isms -g isms /var/lib/isms/signing /var/lib/isms/web
USER isms
WORKDIR /home/isms

EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/isms-secrets"]
CMD ["python", "-m", "worker"]
