# qviz hosted demo: CPU-only torch, the app on port 8501 (Hugging Face Spaces: sdk docker, app_port 8501).
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

# CPU wheel of torch first, so nothing pulls a CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN useradd --create-home qviz && chown -R qviz /app
USER qviz

EXPOSE 8501
# Memory: run with a limit, e.g. `docker run -m 8g -e QVIZ_MEMORY_MB=4096 …`: QVIZ_MEMORY_MB is what all sessions'
# uploads may reserve together (default 6144, for a 16 GB host), QVIZ_SESSION_MB what one session may (default 1024).
ENV QVIZ_MEMORY_MB=6144 QVIZ_SESSION_MB=1024
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
