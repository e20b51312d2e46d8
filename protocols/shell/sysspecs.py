"""Option models (data) for system inspection and rarer tools; merged into ``argspecs``.

Split from ``argspecs`` only to keep modules small; the conventions are the same.
"""

from __future__ import annotations

from .argmodel import ArgModel, model

SYSTEM_SPECS: dict[str, ArgModel] = {
    "pwd": model("LP", "help logical physical version"),
    "whoami": model("", "help version"),
    "id": model("GZagnruz", "context group groups help name real user version zero"),
    "groups": model("", "help version"),
    "uname": model(
        "aimnoprsv",
        (
            "all hardware-platform help kernel-name kernel-release kernel-version "
            "machine nodename operating-system processor version"
        ),
    ),
    "arch": model("", "help version"),
    "nproc": model("", "all help ignore= version"),
    "hostid": model("", "help version"),
    "logname": model("", "help version"),
    "tty": model("s", "help quiet silent version"),
    "users": model("", "help version"),
    "who": model(
        "HTabdlmpqrstuw",
        (
            "all boot count dead heading help ips login lookup mesg message process "
            "runlevel short time users version writable"
        ),
    ),
    "uptime": model("Vhps", "help pretty since version"),
    "stat": model("Lcft", "cached= dereference file-system help printf= terse version"),
    "du": model(
        "0B:DHLPSX:abcd:hklmst:x",
        (
            "all apparent-size block-size= bytes count-links dereference "
            "dereference-args exclude= exclude-from= files0-from= help human-readable "
            "inodes max-depth= no-dereference null one-file-system separate-dirs si "
            "summarize threshold= time= time-style= total version"
        ),
        input="--files0-from -X --exclude-from",
    ),
    "df": model(
        "B:HPTahiklt:vx:",
        (
            "all block-size= exclude-type= help human-readable inodes local no-sync "
            "output:: portability print-type si sync total type= version"
        ),
    ),
    "free": model(
        "Vbc:ghklms:tvw",
        (
            "bytes committed count= gibi giga help human kibi kilo lohi mebi mega "
            "pebi peta seconds= si tebi tera total version wide"
        ),
    ),
    "pgrep": model(
        "AF:G:LO:P:U:Vacd:fg:hilnor:s:t:u:vwx",
        (
            "cgroup= count delimiter= euid= exact full group= help ignore-ancestors "
            "ignore-case inverse lightweight list-full list-name logpidfile newest "
            "ns= nslist= older= oldest parent= pgroup= pidfile= runstates= session= "
            "terminal= uid= version"
        ),
        unknown="--logpidfile",
    ),
    "lsblk": model(
        "ADE:I:JMOPSTVabde:fhilmno:prstw:x:yz",
        (
            "all ascii bytes dedup= discard exclude= fs help include= inverse json "
            "list merge nodeps noempty noheadings output= output-all pairs paths "
            "perms raw scsi shell sort= sysroot= topology tree:: version width= zoned"
        ),
    ),
    "blkid": model(
        "DH:L:O:S:U:Vc:dghikln:o:ps:t:u:",
        (
            "cache-file= garbage-collect help hint= info label= list-filesystems "
            "list-one match-tag= match-token= match-types= no-encoding "
            "no-part-details offset= output= probe size= usages= uuid= version"
        ),
        unknown="-c --cache-file",
    ),
    "lscpu": model(
        "BCJVabcehps:xy",
        (
            "all bytes caches:: extended:: help hex json offline online output-all "
            "parse:: physical sysroot= version"
        ),
        unknown="--sysroot",
    ),
    "lsmem": model(
        "JPS:Vabhno:rs:",
        (
            "all bytes help json noheadings output= output-all pairs raw split= "
            "summary:: sysroot= version"
        ),
        unknown="--sysroot",
    ),
    "lsns": model(
        "JT:VWhlno:p:rt:u",
        (
            "help json list noheadings notruncate nowrap output= output-all raw task= "
            "tree= type= version"
        ),
    ),
    "findmnt": model(
        "ACDF:JM:N:O:PRS:T:UVabcd:efhiklmno:prst:uvw:xy",
        (
            "all ascii bytes canonicalize df direction= evaluate first-only fstab "
            "help invert json kernel list mountpoint= mtab nocanonicalize nofsroot "
            "noheadings notruncate options= output= output-all pairs poll:: pseudo "
            "raw real shadowed shell source= submounts tab-file= target= task= "
            "timeout= tree types= uniq verbose verify version vfs-all"
        ),
        unknown="-F --tab-file",
    ),
    "getent": model("AVis:", "help no-addrconfig no-idn service= usage version"),
    "locale": model(
        "Vackmv",
        ("all-locales category-name charmaps help keyword-name usage verbose version"),
    ),
    "namei": model("Vhlmnovx", "help long modes mountpoints nosymlinks owners version vertical"),
    "systemd-analyze": model(
        "H:M:hq",
        (
            "base-time= from-pattern= fuzz= generators:: global help host= image= "
            "iterations= json= machine= man:: no-pager offline= order profile= quiet "
            "recursive-errors= require root= security-policy= system threshold= "
            "to-pattern= user version"
        ),
        unknown="--root --image -H --host -M --machine",
    ),
    "last": model(
        "FRVadf:hin:p:s:t:wx",
        (
            "dns file= fullnames fulltimes help hostlast ip limit= nohostname "
            "present= since= system time-format= until= version"
        ),
        input="-f --file",
    ),
    "lastlog": model(
        "CR:Sb:ht:u:",
        "before= clear help root= set time= user=",
        unknown="-C --clear -S --set -R --root",
    ),
    "w": model("Vfhiosu", "from help ip-addr no-current no-header old-style short version"),
    "whatis": model(
        "C:L:M:Vdlm:rs:vw",
        (
            "config-file= debug help locale= long manpath= regex section= sections= "
            "systems= usage verbose version wildcard"
        ),
        unknown="-C --config-file",
    ),
    "apropos": model(
        "C:L:M:Vadelm:rs:vw",
        (
            "and config-file= debug exact help locale= long manpath= regex section= "
            "sections= systems= usage verbose version wildcard"
        ),
        unknown="-C --config-file",
    ),
    "whereis": model("B:M:S:Vbfhlmsu", "help version"),
    "pstree": model(
        "AC:GH:N:STUVZacghlnpstu",
        (
            "arguments ascii color= compact-not hide-threads highlight-all "
            "highlight-pid= long ns-changes ns-sort= numeric-sort security-context "
            "show-parents show-pgids show-pids thread-names uid-changes unicode "
            "version vt100"
        ),
    ),
    "ss": model(
        "046A:D:EF:HKMNOSTVZabdef:hilmnoprstuwxz",
        (
            "all bpf cgroup context contexts dccp diag= events extended family= "
            "filter= help inet-sockopt info ipv4 ipv6 kill listening memory mptcp net "
            "no-header numeric oneline options packet processes query= raw resolve "
            "sctp socket= summary tcp threads tipc tipcinfo tos udp unix version "
            "vsock xdp"
        ),
        mode="-K --kill",
        input="-F --filter",
    ),
    "netstat": model(
        "46ACFMNWZacegilnoprstuvwxI::",
        (
            "all cache context continuous extend fib groups interfaces:: listening "
            "masquerade numeric numeric-hosts numeric-ports numeric-users programs "
            "route statistics symbolic timers verbose wide tcp udp udplite raw unix "
            "inet inet6 protocol= sctp help version"
        ),
    ),
    # Not installed on the reference machine: written from their manuals.
    "rg": model(
        "A:B:C:E:LM:NPSTUVabcd:e:f:g:hij:lm:nopqr:st:uvwxz0",
        "after-context= before-context= context= count count-matches files "
        "files-with-matches files-without-match fixed-strings follow glob= iglob= hidden "
        "ignore-case invert-match json line-number max-count= max-depth= multiline "
        "no-filename no-heading no-ignore no-ignore-vcs no-line-number null "
        "only-matching passthru pretty quiet regexp= replace= smart-case sort= sortr= "
        "stats text type= type-not= type-list vimgrep with-filename word-regexp "
        "line-regexp color= colors= column no-messages trim help version heading "
        "case-sensitive unrestricted threads= encoding= binary search-zip "
        "pre= pre-glob= file= ignore-file= hyperlink-format= field-match-separator=",
        code="--pre -z --search-zip",
        input="-f --file --ignore-file",
    ),
    "ag": model(
        "A:B:C:DGLQSUacfg:ilm:noprstuvwz0",
        "after= before= context:: count literal files-with-matches "
        "files-without-matches ignore-case smart-case case-sensitive hidden "
        "unrestricted nocolor color noheading heading nobreak numbers nonumbers "
        "only-matching max-count= depth= ignore= file-search-regex= search-zip "
        "follow vimgrep word-regexp stats silent filename nofilename help version",
    ),
    "ack": model(
        "A:B:C:Hfg:hiIklLm:nosvwQx1",
        "after-context= before-context= context:: count files-with-matches "
        "files-without-matches ignore-case smart-case literal match= max-count= "
        "no-filename with-filename nocolor color type= sort-files noenv help version",
        unknown="--noenv",
    ),
    "tree": model(
        "adfhiklpqrstuvxACDFJNQSI:L:P:o:H:T:",
        "noreport charset= filelimit= dirsfirst du si prune timefmt= sort= help version "
        "gitignore matchdirs ignore-case fromfile info",
        output="-o",
        unknown="--fromfile --info",
    ),
    "cal": model("13hjmsyvwA:B:d:n:", "help version monday sunday julian year months= span"),
    "ping": model(
        "46aAbBdDfhLnOqrRUvc:i:I:l:m:M:p:Q:s:S:t:T:w:W:",
        "",
    ),
    "ping6": model("aAbBdDfhLnOqrRUvc:i:I:l:m:M:p:Q:s:S:t:T:w:W:", ""),
    "traceroute": model(
        "46dFITnrAUDeVM:O:f:g:i:m:N:p:t:l:q:s:w:z:", "help version icmp tcp udp", numeric=False
    ),
    "tracepath": model("46bnl:m:p:V", ""),
    "mtr": model(
        "46bcnrwztxjCeuTSpv:a:B:c:f:i:I:L:m:o:P:Q:s:G:Z:",
        "report report-wide json no-dns show-ips tcp udp interval= report-cycles= help version",
    ),
    "dig": model("46hbvuk:c:f:m:p:q:t:x:y:", "", input="-f -k"),
    "host": model("46aACdlirTsUvVwc:N:R:t:W:m:", ""),
    "nslookup": model("", ""),
    "whois": model(
        "abBcdGHIKlLmMrRxh:p:i:T:s:g:q:t:v:",
        "help version verbose no-recursion",
        export="-h -p",
    ),
    "dc": model("Vh", "help version expression= file=", mode="--expression --file"),
    "bc": model("hilqsvw", "help interactive mathlib quiet standard version warn"),
    "units": model("hqvtsVUf:o:", "help version quiet verbose terse strict file= output-format="),
    "xmllint": model(
        "",
        "noout format recover nonet nocdata noblanks nsclean encode= dropdtd valid "
        "postvalid dtdvalid= relaxng= schema= xpath= html xmlout nowarning noent "
        "debug shell version help huge c14n c14n11 exc-c14n pretty= load-trailing "
        "nofixup-base-uris quiet timing repeat insert compress output= path= "
        "loaddtd dtdattr stream walker pattern= xinclude nowrap",
        output="--output",
        input="--dtdvalid --relaxng --schema",
        # entities, XInclude and DTDs named inside the document read files and URLs
        unknown="--shell --path --noent --xinclude --loaddtd --dtdattr --valid --postvalid",
    ),
    "getfacl": model(
        "acdeEnpPRLsvt",
        "access default omit-header all-effective no-effective numeric "
        "absolute-names physical logical recursive skip-base tabular help version",
    ),
    "iostat": model("cdhkmNptxyzjo:g:H", "dec= human pretty compact"),
    "mpstat": model("AIHnNoPTuv", "dec="),
    "sar": model(
        "ABbdFHhIpqrSuvWwy:P:n:m:i:s:e:o:f:", "dev= fs= human iface= dec=", output="-o", input="-f"
    ),
    "pidstat": model("dhHIlRrstuvwUe:p:G:C:T:", "dec= human", code="-e"),
    "locate": model(
        "0AcbeiLPlmqrSsVwd:n:",
        "all basename count database= existing follow help "
        "ignore-case limit= nofollow null statistics quiet regexp= regex "
        "wholename version",
    ),
    "tsc": model(
        "bhpvw",
        "build help version watch project= outFile= outDir= declarationDir= target= "
        "module= lib= strict noEmit declaration sourceMap jsx= allowJs checkJs "
        "esModuleInterop skipLibCheck noImplicitAny moduleResolution= rootDir= "
        "baseUrl= types= pretty listFiles init showConfig",
        output="--outFile --outDir --declarationDir",
        input="-p --project",
        abbrev=False,
    ),
    "dos2unix": model(
        "hkLoqsFRVbrvVnc:ifmO",
        "help keep-date license oldfile quiet safe follow-symlink "
        "replace-symlink version keep-bom remove-bom verbose newfile convmode= info "
        "force add-bom stdout allow-chown no-allow-chown",
        mode="-n --newfile -O --stdout",
    ),
    "sponge": model("a", ""),
    "info": model(
        "ad:f:hkn:o:OvwR",
        "all apropos= directory= file= help index-search= node= output= "
        "show-options usage version where raw-escapes",
        output="-o --output",
    ),
}
