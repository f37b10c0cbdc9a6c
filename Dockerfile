# market-dbs-bot: long polling by default; webhook mode when TELEGRAM_WEBHOOK_URL is set.
#   docker build -t market-dbs-bot .
#   docker run -d -e TELEGRAM_BOT_TOKEN=... -v bot-data:/data market-dbs-bot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOT_DB_PATH=/data/bot.sqlite3 \
    PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin bot \
    && mkdir -p /data && chown bot:bot /data

# The database and its .key file live together on this volume: back them up together.
VOLUME ["/data"]
USER bot
WORKDIR /data
EXPOSE 8080

# In webhook mode the bot serves /healthz (200 while the worker and storage are alive); with
# long polling there is no port, so the check passes whenever the process runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, sys, urllib.request; \
url = os.environ.get('TELEGRAM_WEBHOOK_URL'); \
sys.exit(0) if not url else urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"

STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
