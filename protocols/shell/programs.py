"""Program tables: which well-known programs do what, as data.

Each table maps a program's basename to the categories running it implies when no
argument-aware handler (``handlers*.py``) refines it. A program in no table at all is
``unknown`` (see the package docstring for why). Keep entries sorted by theme, not
alphabetically, so a reviewer can see what a category contains.
"""

# Word lists are written as whitespace-separated strings: far easier to read and review
# as data than hundreds of quoted literals.
# ruff: noqa: SIM905

from __future__ import annotations

from protocols.classification import Category

C = Category

#: Reading and inspecting: no state change, no data leaving beyond the session's own output.
READ: frozenset[str] = frozenset(
    """
    ls dir vdir cat tac less more most head tail grep egrep fgrep rg ag ack zgrep zcat zless
    bzcat xzcat wc sort uniq cut paste join tr fold fmt nl column expand unexpand rev shuf
    echo printf pwd whoami id groups uname arch nproc hostid logname tty users who w last
    lastlog uptime date cal stat file du df free vmstat iostat mpstat pidstat sar ps pstree
    top htop atop btop pgrep pidof lsof ss netstat lsblk blkid lscpu lsmem lspci lsusb lsmod
    lsns findmnt which type whereis whatis apropos realpath readlink basename dirname md5sum
    sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum sum diff diff3 sdiff cmp comm
    jq yq xq tree locate mlocate plocate true false test [ sleep seq column od hexdump xxd
    strings base32 base64 getent locale  nslookup dig host ping ping6
    traceroute tracepath mtr whois man help info apropos journalctl dmesg numfmt expr factor
    yes tput clear reset cd pushd popd dirs jobs fg bg wait disown hash getconf ulimit
    printenv  column look iconv sha3sum tsort pr  namei getfacl getcap
    lsattr  systemd-analyze   cut xmllint zdiff zcmp
    zmore bzgrep xzgrep lzcat
    arp    free  bc dc units
    : logout read mapfile readarray shift return exit break continue getopts let caller
    """.split()
)

#: Changing files the user owns, in ordinary ways; sensitive targets are caught by path.
WRITE: frozenset[str] = frozenset(
    """
    touch mkdir cp mv install ln tee split csplit mktemp rmdir gzip gunzip bzip2 bunzip2 xz
    unxz zstd unzstd lz4 zip unzip tar cpio ar 7z 7za rar unrar patch vim vi nvim nano
    emacs pico ed ex joe mcedit micro view vimdiff  convert mogrify ffmpeg
    dos2unix unix2dos sponge logger ssh-keygen  umask gcc cc g++ c++ clang clang++
    javac rustc tsc ld as
    """.split()
)

#: Data leaving the machine (or secrets being dumped to the session).
EXPORT: frozenset[str] = frozenset(
    """
    pg_dump pg_dumpall pg_basebackup pg_receivewal mysqldump mariadb-dump mongodump
    mongoexport ftp lftp tftp sftp ncftp mail mailx sendmail mutt rclone s3cmd azcopy
    gsutil croc magic-wormhole transfer.sh
    """.split()
)

#: Raw network channels and tunnels: the gateway cannot see what flows through them.
FORWARDING: frozenset[str] = frozenset(
    """
    nc ncat netcat socat telnet sshuttle autossh chisel ngrok frpc frps cloudflared
    proxychains proxychains4 tsocks torify torsocks openvpn wg wg-quick stunnel mosh
    """.split()
)

#: Scheduling, service, package, kernel, network and machine control.
ADMIN: frozenset[str] = frozenset(
    """
    reboot shutdown halt poweroff init telinit systemctl service rc-service initctl
    launchctl kill pkill killall killall5 skill renice iptables ip6tables iptables-restore
    ip6tables-restore iptables-save nft ufw firewall-cmd mount umount swapon swapoff sysctl
    crontab at batch atrm apt apt-get aptitude dpkg dpkg-reconfigure yum dnf rpm zypper apk
    pacman snap flatpak brew pip pip3 pipx npm pnpm yarn gem
    conda mamba modprobe insmod rmmod depmod ldconfig update-alternatives update-grub
    grub-install hostnamectl timedatectl localectl hwclock setenforce semanage semodule
    ifconfig ifup ifdown route tc ethtool nmcli iw iwconfig brctl mdadm lvcreate lvextend
    lvresize vgcreate vgextend pvcreate cryptsetup zpool zfs docker podman kubectl helm
    terraform tofu ansible ansible-playbook salt puppet chef-client systemd-run logrotate
    update-rc.d chkconfig sv supervisorctl pm2 nginx apachectl apache2ctl certbot
    aws gcloud az doctl heroku flyctl vercel redis-cli consul vault nomad etcdctl
    mysqladmin pg_ctl pg_ctlcluster pg_createcluster pg_dropcluster mongod pg_restore
    chattr  hostname ip
    """.split()
)

#: Deleting or overwriting data in ways that cannot be undone.
DESTRUCTIVE: frozenset[str] = frozenset(
    """
    rm unlink shred wipe srm dd mkfs mke2fs mkfs.ext2 mkfs.ext3 mkfs.ext4 mkfs.xfs
    mkfs.btrfs mkfs.vfat mkfs.fat mkfs.ntfs mkswap wipefs fdisk sfdisk cfdisk gdisk sgdisk
    parted blkdiscard truncate lvremove vgremove pvremove dropdb dropuser fstrim badblocks
    """.split()
)

#: Changing who may do what: accounts, groups, ownership, capabilities, escalation.
PRIVILEGE: frozenset[str] = frozenset(
    """
    sudo su doas pkexec run0 sudoedit passwd chpasswd chage usermod useradd adduser userdel
    deluser groupadd groupdel groupmod addgroup delgroup gpasswd newgrp sg visudo vipw vigr
    setcap setfacl chown chgrp chsh chfn ssh-copy-id nsenter unshare capsh setpriv
    createuser pam-auth-update
    """.split()
)

#: Changing how the session is recorded or seen (history, terminal, auditing).
TAMPER: frozenset[str] = frozenset(
    """
    auditctl script tmux screen byobu stty unalias enable trap
    """.split()
)

#: Running code the gateway cannot read: interpreters, build tools, debuggers.
CODE: frozenset[str] = frozenset(
    """
    eval source . python python2 python3 pypy pypy3 perl ruby irb node nodejs deno bun php
    lua luajit tclsh wish Rscript R julia osascript pwsh powershell groovy scala kotlin
    java jshell ghci runghc erl escript elixir iex guile racket sbcl clisp gdb lldb make
    cmake ninja gradle gradlew mvn ant bazel npx cargo go dotnet expect busybox-sh fc
    complete bind
    """.split()
)

#: Shells: ``-c STRING`` and literal here-documents are parsed recursively.
SHELLS: frozenset[str] = frozenset(
    "sh bash zsh dash ksh mksh ash yash fish tcsh csh rbash posh".split()
)

#: Interpreters whose ``--version``/``-V`` alone is a harmless read.
INTERPRETERS: frozenset[str] = frozenset(
    """
    python python2 python3 pypy pypy3 perl ruby node nodejs deno bun php lua tclsh java
    go cargo make gcc
    """.split()
)

#: Argument lists that only print a version or check configuration, for any table entry.
VERSION_FORMS: frozenset[tuple[str, ...]] = frozenset(
    {("--version",), ("-version",), ("-V",), ("--help",), ("-help",)}
)

#: Per-program argument words that only inspect (every argument must be one of them).
READ_FORMS: dict[str, frozenset[str]] = {
    "nginx": frozenset({"-t", "-T", "-v", "-V", "-q"}),
    "apachectl": frozenset({"-S", "-t", "-M", "-v", "-V", "configtest", "-D", "DUMP_MODULES"}),
    "apache2ctl": frozenset({"-S", "-t", "-M", "-v", "-V", "configtest"}),
    "node": frozenset({"-v", "--version"}),
    "nodejs": frozenset({"-v", "--version"}),
    "ansible": frozenset({"--version", "--list-hosts"}),
    "sshd": frozenset({"-t", "-T"}),
    "visudo": frozenset({"-c", "--check"}),
}

#: Directories a program name may be qualified with and still mean the table entry.
STANDARD_BIN_DIRS: frozenset[str] = frozenset(
    "/bin /usr/bin /sbin /usr/sbin /usr/local/bin /usr/local/sbin".split()
)

#: Programs whose arguments only touch metadata: secret-looking paths there are not reads.
METADATA_ONLY: frozenset[str] = frozenset(
    "ls stat test [ chmod touch mkdir file namei realpath readlink basename dirname".split()
)

#: Programs whose file arguments they modify: sensitive targets are checked on them.
MODIFIES_ARGS: frozenset[str] = frozenset(
    """
    tee cp mv install ln touch truncate rm shred unlink dd chmod chown chgrp vim vi nvim
    nano emacs pico ed ex joe micro patch sponge rsync wipe srm setfacl chattr
    """.split()
)

#: Environment variables whose change is tamper: they alter what history/recording sees,
#: what later lines' ``~`` means to the path checks (HOME), or the lexing state of a
#: database session started from this line.
TAMPER_VARS: frozenset[str] = frozenset(
    """
    HISTFILE HISTSIZE HISTFILESIZE HISTCONTROL HISTIGNORE HISTTIMEFORMAT PROMPT_COMMAND
    PS0 PS1 PS2 PS4 TMOUT PGOPTIONS PGCLIENTENCODING SAVEHIST HISTORY HOME
    """.split()
)

#: Environment variables that make a program run other code than it says.
CODE_VARS: frozenset[str] = frozenset(
    """
    LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT BASH_ENV ENV PATH IFS GIT_SSH GIT_SSH_COMMAND
    GIT_EXTERNAL_DIFF GIT_PAGER GIT_EDITOR GIT_ASKPASS GIT_EXEC_PATH PAGER EDITOR VISUAL
    LESSOPEN LESSCLOSE SSH_ASKPASS SUDO_ASKPASS PYTHONSTARTUP PYTHONPATH PYTHONHOME
    PERL5OPT PERL5LIB PERLLIB NODE_OPTIONS NODE_PATH RUBYOPT RUBYLIB BASH_FUNC SHELLOPTS
    BASHOPTS PROMPT_COMMAND MANPAGER BROWSER SYSTEMD_PAGER EXECIGNORE MAILPATH
    KUBECONFIG WGETRC CURL_HOME LESSKEYIN LESSKEY TAR_OPTIONS GZIP ZIPOPT UNZIP LESS MORE
    MANOPT GCONV_PATH UNZIPOPT ZIPINFO ZIPINFOOPT
    """.split()
)

#: Services whose control is also tamper: logging, auditing, the gateway itself.
TAMPER_SERVICES: tuple[str, ...] = (
    "audit",
    "syslog",
    "rsyslog",
    "journald",
    "systemd-journald",
    "airlock",
    "falco",
    "osquery",
    "auditbeat",
    "filebeat",
    "sshd",
)

_TABLES: tuple[tuple[frozenset[str], Category], ...] = (
    (READ, C.READ),
    (WRITE, C.WRITE),
    (EXPORT, C.EXPORT),
    (FORWARDING, C.FORWARDING),
    (ADMIN, C.ADMIN),
    (DESTRUCTIVE, C.DESTRUCTIVE),
    (PRIVILEGE, C.PRIVILEGE),
    (TAMPER, C.TAMPER),
    (CODE, C.CODE),
    (SHELLS, C.CODE),
)


def _build() -> dict[str, frozenset[Category]]:
    table: dict[str, set[Category]] = {}
    for names, cat in _TABLES:
        for name in names:
            table.setdefault(name, set()).add(cat)
    table["userdel"].add(C.DESTRUCTIVE)
    table["deluser"].add(C.DESTRUCTIVE)
    table["sftp"].add(C.FILE_TRANSFER)
    for name in ("ftp", "lftp", "tftp", "ncftp", "rclone", "s3cmd", "azcopy", "croc"):
        table[name].add(C.FILE_TRANSFER)
    return {name: frozenset(cats) for name, cats in table.items()}


#: Basename -> default categories. Handlers refine many of these by arguments.
PROGRAMS: dict[str, frozenset[Category]] = _build()
