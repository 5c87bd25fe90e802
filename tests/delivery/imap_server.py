"""A real IMAP server for tests: Debian's Dovecot, started in the foreground with a
configuration of its own in a temporary folder, on free loopback ports, and stopped
afterwards. The system's Dovecot service (if the package started one) is not used."""

from __future__ import annotations

import grp
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.smtp import free_port

DOVECOT = Path("/usr/sbin/dovecot")
IMAP_LOGIN = Path("/usr/lib/dovecot/imap-login")
#: why the IMAP tests skip on a machine without the package
MISSING = "dovecot-imapd not installed: apt-get install dovecot-imapd"


def is_installed() -> bool:
    """Tell whether Dovecot and its IMAP server are installed."""
    return DOVECOT.exists() and IMAP_LOGIN.exists()


def self_signed_certificate(key_file: Path, cert_file: Path) -> None:
    """Write a key and a certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


class Dovecot:
    """One mailbox of one user, served over IMAP and IMAPS on 127.0.0.1."""

    def __init__(self, user: str = "bounces", password: str = "geheim") -> None:
        self.user = user
        self.password = password
        self.port = free_port()
        self.tls_port = free_port()
        # Not under pytest's tmp_path: its parents are closed to other users, and
        # Dovecot reads the files and keeps the mail as unprivileged users.
        self.root = Path(tempfile.mkdtemp(prefix="postbode-dovecot-"))
        self.root.chmod(0o755)
        self.maildir = self.root / "mail" / user / "Maildir"
        self.cert_file = self.root / "cert.pem"
        self.log_file = self.root / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            # Dovecot never serves mail as root: the mail belongs to nobody.
            internal, login = "dovecot", "dovenull"
            self.uid = pwd.getpwnam("nobody").pw_uid
            self.gid = grp.getgrnam("nogroup").gr_gid
        else:
            internal = login = pwd.getpwuid(os.geteuid()).pw_name
            self.uid, self.gid = os.geteuid(), os.getegid()
        self.internal_user, self.login_user = internal, login

    def start(self) -> Dovecot:
        """Write the configuration, start Dovecot and wait until it listens."""
        for sub in ("new", "cur", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        self._chown(self.root / "mail")
        self_signed_certificate(self.root / "key.pem", self.cert_file)
        # A passwd-file of one line; the password is only this test's.
        (self.root / "users").write_text(
            f"{self.user}:{{PLAIN}}{self.password}::::::\n"
        )
        config = self.root / "dovecot.conf"
        config.write_text(self._config())
        self.process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_until_listening()
        return self

    def stop(self) -> None:
        """Stop Dovecot and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def deliver(self, raw: bytes, name: str) -> None:
        """Put one message into the mailbox, unread, as a local delivery agent would."""
        temporary = self.maildir / "tmp" / name
        temporary.write_bytes(raw)
        self._chown(temporary)
        # Maildir: written in tmp/, then renamed into new/, so it appears whole.
        temporary.rename(self.maildir / "new" / name)

    def flags(self) -> dict[str, str]:
        """Return each message's Maildir flags by name ("S" once it was read)."""
        found = {}
        for sub in ("new", "cur"):
            for path in (self.maildir / sub).iterdir():
                name, _, info = path.name.partition(":2,")
                found[name] = info
        return found

    def log(self) -> str:
        """Return what Dovecot logged so far."""
        return self.log_file.read_text() if self.log_file.exists() else ""

    def _chown(self, top: Path) -> None:
        if os.geteuid() != 0:
            return
        os.chown(top, self.uid, self.gid)
        for folder, subfolders, files in os.walk(top):
            for name in subfolders + files:
                os.chown(Path(folder) / name, self.uid, self.gid)

    def _config(self) -> str:
        root = self.root
        return f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {self.log_file}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {self.internal_user}
default_login_user = {self.login_user}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
"""

    def _wait_until_listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr
                said = (stderr.read().decode() if stderr else "") + self.log()
                self.stop()
                raise RuntimeError(f"dovecot stopped at start:\n{said}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        log = self.log()
        self.stop()
        raise RuntimeError(f"dovecot did not listen on {self.port}:\n{log}")
