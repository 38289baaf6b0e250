# One image for web, worker, beat and the event consumer: the command differs (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 app

WORKDIR /app
COPY pyproject.toml constraints.txt ./
COPY config ./config
COPY tenants ./tenants
COPY integrations ./integrations
COPY fortnox ./fortnox
COPY ongoing ./ongoing
COPY realtime ./realtime
RUN pip install --no-cache-dir -c constraints.txt .
COPY . .
# collectstatic needs settings that pass production's checks; these throwaway values never run.
RUN SECRET_KEY=build-only-$(head -c 48 /dev/urandom | base64 | tr -d '/+=') \
    ENCRYPTION_KEYS=build-only-not-a-real-key \
    DATABASE_URL=postgres://build@localhost/build \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --no-input

USER app
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "30", "--access-logfile", "-"]
