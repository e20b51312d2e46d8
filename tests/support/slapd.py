"""A real OpenLDAP slapd for tests: throwaway mdb database on a loopback port.

Entries are added with `ldapadd` while slapd runs, because the memberof overlay only fills
`memberOf` for entries added through the server (not `slapadd`). No Debian package ships
the openssh-lpk (`sshPublicKey`) schema, so it is written here.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port, require_binary

BASE = "dc=airlock,dc=test"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "ldap-admin-pw"

OPENSSH_LPK = """\
attributetype ( 1.3.6.1.4.1.24552.500.1.1.1.13 NAME 'sshPublicKey'
    DESC 'OpenSSH public key'
    EQUALITY octetStringMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 )
objectclass ( 1.3.6.1.4.1.24552.500.1.1.2.0 NAME 'ldapPublicKey' SUP top AUXILIARY
    DESC 'OpenSSH LPK objectclass'
    MAY ( sshPublicKey $ uid ) )
"""

CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include {dir}/openssh-lpk.schema
pidfile {dir}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
{tls}
database mdb
suffix "{base}"
rootdn "{admin}"
rootpw {password}
directory {dir}/db
maxsize 16777216
access to attrs=userPassword by anonymous auth by self read by * none
access to * by * read
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
"""


@dataclass
class Slapd:
    port: int
    directory: Path
    proc: subprocess.Popen[bytes]
    tls_port: int | None = None
    cafile: Path | None = None

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """The ldaps:// URL (only when started with a certificate)."""
        assert self.tls_port is not None, "slapd was started without TLS"
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def _tool(self, tool: str, ldif: str) -> None:
        subprocess.run(
            [tool, "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD],
            input=ldif.encode(),
            check=True,
            capture_output=True,
            timeout=20,
        )

    def add(self, ldif: str) -> None:
        self._tool("ldapadd", ldif)

    def modify(self, ldif: str) -> None:
        self._tool("ldapmodify", ldif)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def _wait_listening(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 10) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"slapd exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)  # polling for readiness, not synchronising test steps
    raise RuntimeError("slapd did not start listening")


def start_slapd(
    tls_cert: Path | None = None, tls_key: Path | None = None, tls_ca: Path | None = None
) -> Slapd:
    """Start slapd; with a certificate, also serve ldaps:// (and StartTLS on ldap://).

    `tls_ca` is the CA that issued `tls_cert` (TLSCACertificateFile); without it the
    certificate is taken to be self-signed and is its own CA.
    """
    binary = require_binary("/usr/sbin/slapd", "OpenLDAP slapd")
    require_binary("ldapadd", "ldap-utils")
    directory = Path(tempfile.mkdtemp(prefix="airlock-slapd-"))
    (directory / "db").mkdir()
    (directory / "openssh-lpk.schema").write_text(OPENSSH_LPK)
    tls = ""
    if tls_cert and tls_key:
        tls = f"TLSCertificateFile {tls_cert}\nTLSCertificateKeyFile {tls_key}\n"
        tls += f"TLSCACertificateFile {tls_ca or tls_cert}\n"
    (directory / "slapd.conf").write_text(
        CONF.format(dir=directory, base=BASE, admin=ADMIN_DN, password=ADMIN_PASSWORD, tls=tls)
    )
    port = free_port()
    urls = f"ldap://127.0.0.1:{port}/"
    tls_port = None
    if tls:
        tls_port = free_port()
        urls += f" ldaps://127.0.0.1:{tls_port}/"
    proc = subprocess.Popen(
        [binary, "-f", str(directory / "slapd.conf"), "-h", urls, "-d", "none"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc)
        if tls_port is not None:
            _wait_listening(tls_port, proc)
    except RuntimeError:
        proc.kill()
        raise
    server = Slapd(port, directory, proc, tls_port, tls_ca or tls_cert)
    server.add(f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: airlock\n"
               f"dc: airlock\n\ndn: ou=people,{BASE}\nobjectClass: organizationalUnit\n"
               f"ou: people\n\ndn: ou=groups,{BASE}\nobjectClass: organizationalUnit\n"
               "ou: groups\n")  # fmt: skip
    return server


def person(uid: str, password: str, mail: str = "", keys: tuple[str, ...] = ()) -> str:
    """LDIF for one user (inetOrgPerson + ldapPublicKey)."""
    lines = [
        f"dn: uid={uid},ou=people,{BASE}",
        "objectClass: inetOrgPerson",
        "objectClass: ldapPublicKey",
        f"uid: {uid}",
        f"cn: {uid}",
        f"sn: {uid}",
        f"userPassword: {password}",
    ]
    if mail:
        lines.append(f"mail: {mail}")
    lines += [f"sshPublicKey: {k}" for k in keys]
    return "\n".join(lines) + "\n"


def group_of_names(cn: str, *uids: str) -> str:
    members = "\n".join(f"member: uid={u},ou=people,{BASE}" for u in uids)
    return f"dn: cn={cn},ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: {cn}\n{members}\n"


def posix_group(cn: str, gid: int, *uids: str) -> str:
    members = "".join(f"memberUid: {u}\n" for u in uids)
    return (
        f"dn: cn={cn},ou=groups,{BASE}\nobjectClass: posixGroup\ncn: {cn}\n"
        f"gidNumber: {gid}\n{members}"
    )


#: The directory every identity test shares (tests that mutate use their own users).
PASSWORDS = {"dave": "dave-ldap-pw", "erin": "erin-ldap-pw", "frank": "frank-ldap-pw",
             "alice": "alice-in-ldap", "gina": "gina-ldap-pw"}  # fmt: skip


def populate(server: Slapd, dave_key: str) -> None:
    """dave: ops + dba (groupOfNames), devs (posixGroup), an SSH key, a mail address;
    erin: ops; frank: no groups; alice: shadows the local test user of that name;
    gina: ops, removed from it by the cache-TTL test."""
    server.add(
        "\n".join(
            [
                person("dave", PASSWORDS["dave"], "dave@example.com", (dave_key,)),
                person("erin", PASSWORDS["erin"], "erin@example.com"),
                person("frank", PASSWORDS["frank"]),
                person("alice", PASSWORDS["alice"]),
                person("gina", PASSWORDS["gina"]),
            ]
        )
    )
    server.add(
        "\n".join(
            [
                group_of_names("ops", "dave", "erin", "gina"),
                group_of_names("dba", "dave"),
                posix_group("devs", 5000, "dave", "frank"),
            ]
        )
    )


def ldap_section(server: Slapd, **extra: object) -> dict[str, object]:
    """An `[identity.ldap]` table for this server (service bind as the admin DN)."""
    import os

    os.environ["AIRLOCK_TEST_LDAP_PASSWORD"] = ADMIN_PASSWORD
    return {
        "url": server.url,
        "bind_dn": ADMIN_DN,
        "bind_password_env": "AIRLOCK_TEST_LDAP_PASSWORD",
        "user_base": f"ou=people,{BASE}",
        "timeout_s": 2.0,
        **extra,
    }
