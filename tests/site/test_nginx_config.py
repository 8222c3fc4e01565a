"""The nginx configuration serve.py renders is one nginx accepts, with and without TLS."""

import shutil
import subprocess

import pytest

from deploy.serve import nginx_config
from tests.site.stack import free_port, require_nginx


def _nginx_accepts(config: str, runtime_dir) -> subprocess.CompletedProcess:
    (runtime_dir / "nginx.conf").write_text(config)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    command = [nginx, "-t", "-p", str(runtime_dir), "-c", str(runtime_dir / "nginx.conf")]
    return subprocess.run([*command, "-e", "stderr"], capture_output=True, text=True, timeout=30)


def _render(tmp_path) -> str:
    listen = f"127.0.0.1:{free_port()}"
    return nginx_config(listen, ["127.0.0.1:9"], ["127.0.0.1:10"], tmp_path)


def test_the_plain_configuration_is_valid_and_says_what_the_front_promises(tmp_path, settings):
    require_nginx()
    settings.INGEST_MAX_BODY_BYTES = 123_456
    config = _render(tmp_path)
    checked = _nginx_accepts(config, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "client_max_body_size 123456;" in config
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in config
    assert "ssl" not in config.split("listen", 1)[1].split(";", 1)[0]


def test_with_a_certificate_nginx_listens_with_tls(tmp_path, settings):
    require_nginx()
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        [*request, "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    settings.SERVE_TLS_CERTIFICATE, settings.SERVE_TLS_KEY = str(certificate), str(key)
    config = _render(tmp_path)
    checked = _nginx_accepts(config, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert " ssl default_server;" in config
    assert f"ssl_certificate {certificate};" in config


def test_a_certificate_without_its_key_is_refused(tmp_path, settings):
    settings.SERVE_TLS_CERTIFICATE, settings.SERVE_TLS_KEY = str(tmp_path / "cert.pem"), ""
    with pytest.raises(SystemExit, match="both"):
        _render(tmp_path)
