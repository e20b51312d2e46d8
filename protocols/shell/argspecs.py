"""Option models (data) for everyday read/write programs; see ``argmodel`` for why.

Most lists follow GNU coreutils/util-linux ``--help`` of the versions on Debian 12; a
role names the options that matter to policy (``filter``/``code``: runs a program,
``output``: writes the value, ``input``: reads it, ``export``: talks to a chosen host,
``unknown``: cannot be judged). An option missing here makes the command ``unknown``:
add it (with its role) rather than loosening the parser.
"""

from __future__ import annotations

from .argmodel import ArgModel, model
from .sysspecs import SYSTEM_SPECS

#: Program -> its option model. Programs with a mode of their own are in ``archives``.
SPECS: dict[str, ArgModel] = {
    "ls": model(
        "1ABCDFGHI:LNQRST:UXZabcdfghiklmnopqrstuvw:x",
        (
            "all almost-all author block-size= classify:: color:: context dereference "
            "dereference-command-line dereference-command-line-symlink-to-dir "
            "directory dired escape file-type format= full-time "
            "group-directories-first help hide= hide-control-chars human-readable "
            "hyperlink:: ignore= ignore-backups indicator-style= inode kibibytes "
            "literal no-group numeric-uid-gid quote-name quoting-style= recursive "
            "reverse show-control-chars si size sort= tabsize= time= time-style= "
            "version width= zero"
        ),
    ),
    "cat": model(
        "AETbenstuv",
        (
            "help number number-nonblank show-all show-ends show-nonprinting "
            "show-tabs squeeze-blank version"
        ),
    ),
    "tac": model("brs:", "before help regex separator= version"),
    "head": model(
        "c:n:qvz",
        "bytes= help lines= quiet silent verbose version zero-terminated",
        numeric=True,
    ),
    "tail": model(
        "Fc:fn:qs:vz",
        (
            "bytes= follow:: help lines= max-unchanged-stats= pid= quiet retry silent "
            "sleep-interval= verbose version zero-terminated"
        ),
        numeric=True,
    ),
    "grep": model(
        "A:B:C:D:EFGHILN:PRTUVZabcd:e:f:hilm:noqrsvwxz",
        (
            "after-context= basic-regexp before-context= binary binary-files= "
            "byte-offset color:: colour:: context= count dereference-recursive "
            "devices= directories= exclude= exclude-dir= exclude-from= "
            "extended-regexp file= files-with-matches files-without-match "
            "fixed-strings group-separator= help ignore-case include= initial-tab "
            "invert-match label= line-buffered line-number line-regexp max-count= "
            "no-filename no-group-separator no-ignore-case no-messages null null-data "
            "only-matching perl-regexp quiet recursive regexp= silent text version "
            "with-filename word-regexp"
        ),
        input="-f --file --exclude-from",
    ),
    "egrep": model(
        "A:B:C:D:EFGHILN:PRTUVZabcd:e:f:hilm:noqrsvwxz",
        (
            "after-context= basic-regexp before-context= binary binary-files= "
            "byte-offset color:: colour:: context= count dereference-recursive "
            "devices= directories= exclude= exclude-dir= exclude-from= "
            "extended-regexp file= files-with-matches files-without-match "
            "fixed-strings group-separator= help ignore-case include= initial-tab "
            "invert-match label= line-buffered line-number line-regexp max-count= "
            "no-filename no-group-separator no-ignore-case no-messages null null-data "
            "only-matching perl-regexp quiet recursive regexp= silent text version "
            "with-filename word-regexp"
        ),
        input="-f --file --exclude-from",
    ),
    "fgrep": model(
        "A:B:C:D:EFGHILN:PRTUVZabcd:e:f:hilm:noqrsvwxz",
        (
            "after-context= basic-regexp before-context= binary binary-files= "
            "byte-offset color:: colour:: context= count dereference-recursive "
            "devices= directories= exclude= exclude-dir= exclude-from= "
            "extended-regexp file= files-with-matches files-without-match "
            "fixed-strings group-separator= help ignore-case include= initial-tab "
            "invert-match label= line-buffered line-number line-regexp max-count= "
            "no-filename no-group-separator no-ignore-case no-messages null null-data "
            "only-matching perl-regexp quiet recursive regexp= silent text version "
            "with-filename word-regexp"
        ),
        input="-f --file --exclude-from",
    ),
    "zgrep": model(
        "A:B:C:D:EFGHILN:PRTUVZabcd:e:f:hilm:noqrsvwxz",
        (
            "after-context= basic-regexp before-context= binary binary-files= "
            "byte-offset color:: colour:: context= count dereference-recursive "
            "devices= directories= exclude= exclude-dir= exclude-from= "
            "extended-regexp file= files-with-matches files-without-match "
            "fixed-strings group-separator= help ignore-case include= initial-tab "
            "invert-match label= line-buffered line-number line-regexp max-count= "
            "no-filename no-group-separator no-ignore-case no-messages null null-data "
            "only-matching perl-regexp quiet recursive regexp= silent text version "
            "with-filename word-regexp"
        ),
        input="-f --file",
    ),
    "wc": model(
        "Lclmw",
        "bytes chars files0-from= help lines max-line-length version words",
        input="--files0-from",
    ),
    "sort": model(
        "CMRS:T:Vbcdfghik:mno:rst:uz",
        (
            "batch-size= buffer-size= check= compress-program= debug dictionary-order "
            "field-separator= files0-from= general-numeric-sort help "
            "human-numeric-sort ignore-case ignore-leading-blanks ignore-nonprinting "
            "key= merge month-sort numeric-sort output= parallel= random-sort "
            "random-source= reverse sort= stable temporary-directory= unique version "
            "version-sort zero-terminated"
        ),
        filter="--compress-program",
        output="-o --output",
        input="--files0-from --random-source",
    ),
    "uniq": model(
        "Dcdf:is:uw:z",
        (
            "all-repeated:: check-chars= count group:: help ignore-case repeated "
            "skip-chars= skip-fields= unique version zero-terminated"
        ),
    ),
    "cut": model(
        "Mb:c:d:f:nsz",
        (
            "bytes= characters= complement delimiter= fields= help only-delimited "
            "output-delimiter= version zero-terminated"
        ),
    ),
    "paste": model("d:sz", "delimiters= help serial version zero-terminated"),
    "join": model(
        "1:2:a:e:ij:o:t:v:z",
        ("check-order header help ignore-case nocheck-order version zero-terminated"),
    ),
    "tr": model("Ccdst", "complement delete help squeeze-repeats truncate-set1 version"),
    "fold": model("bsw:", "bytes help spaces version width="),
    "fmt": model(
        "cg:p:stuw:",
        (
            "crown-margin goal= help prefix= split-only tagged-paragraph "
            "uniform-spacing version width="
        ),
    ),
    "nl": model(
        "b:d:f:h:i:l:n:ps:v:w:",
        (
            "body-numbering= footer-numbering= header-numbering= help "
            "join-blank-lines= line-increment= no-renumber number-format= "
            "number-separator= number-width= section-delimiter= starting-line-number= "
            "version"
        ),
    ),
    "column": model(
        "E:H:JLN:O:R:T:VW:c:dehi:l:n:o:p:r:s:tx",
        (
            "fillrows help json keep-empty-lines output-separator= output-width= "
            "separator= table table-columns= table-columns-limit= table-header-repeat "
            "table-hide= table-name= table-noextreme= table-noheadings table-order= "
            "table-right= table-truncate= table-wrap= tree= tree-id= tree-parent= "
            "version"
        ),
    ),
    "expand": model("it:", "help initial tabs= version"),
    "unexpand": model("at:", "all first-only help tabs= version"),
    "rev": model("Vh", "help version"),
    "shuf": model(
        "ei:n:o:rz",
        (
            "echo head-count= help input-range= output= random-source= repeat version "
            "zero-terminated"
        ),
        output="-o --output",
        input="--random-source",
    ),
    "echo": model("Een", "help version"),
    "file": model(
        "0CF:LNPSZbcde:f:hiklm:nprsvz",
        (
            "apple brief checking-printout compile debug dereference exclude= "
            "exclude-quiet= extension files-from= help keep-going list magic-file= "
            "mime mime-encoding mime-type no-buffer no-dereference no-pad no-sandbox "
            "parameter preserve-date print0 raw separator= special-files uncompress "
            "uncompress-noreport version"
        ),
        input="-f --files-from -m --magic-file",
        unknown="-C --compile",
    ),
    "realpath": model(
        "LPemqsz",
        (
            "canonicalize-existing canonicalize-missing help logical no-symlinks "
            "physical quiet relative-base= relative-to= strip version zero"
        ),
    ),
    "readlink": model(
        "efmnqsvz",
        (
            "canonicalize canonicalize-existing canonicalize-missing help no-newline "
            "quiet silent verbose version zero"
        ),
    ),
    "basename": model("as:z", "help multiple suffix= version zero"),
    "dirname": model("z", "help version zero"),
    "md5sum": model(
        "bctwz",
        ("binary check help ignore-missing quiet status strict tag text version warn zero"),
    ),
    "sha1sum": model(
        "bctwz",
        ("binary check help ignore-missing quiet status strict tag text version warn zero"),
    ),
    "sha224sum": model(
        "bctwz",
        ("binary check help ignore-missing quiet status strict tag text version warn zero"),
    ),
    "sha256sum": model(
        "bctwz",
        ("binary check help ignore-missing quiet status strict tag text version warn zero"),
    ),
    "sha384sum": model(
        "bctwz",
        ("binary check help ignore-missing quiet status strict tag text version warn zero"),
    ),
    "sha512sum": model(
        "bctwz",
        ("binary check help ignore-missing quiet status strict tag text version warn zero"),
    ),
    "b2sum": model(
        "bcl:twz",
        ("binary check help ignore-missing length= quiet status strict tag text version warn zero"),
    ),
    "cksum": model(
        "a:cl:wz",
        (
            "algorithm= check debug help ignore-missing length= quiet status strict "
            "tag untagged version warn zero"
        ),
    ),
    "sum": model("rs", "help sysv version"),
    "diff": model(
        "BC:D:EF:I:NS:TU:W:X:Zabcdeilnpqrstuvwx:y",
        (
            "brief color:: context:: ed exclude= exclude-from= expand-tabs from-file= "
            "help horizon-lines= ifdef= ignore-all-space ignore-blank-lines "
            "ignore-case ignore-file-name-case ignore-matching-lines= "
            "ignore-space-change ignore-tab-expansion ignore-trailing-space "
            "initial-tab label= left-column line-format= minimal new-file "
            "no-dereference no-ignore-file-name-case normal paginate palette= rcs "
            "recursive report-identical-files show-c-function show-function-line= "
            "side-by-side speed-large-files starting-file= strip-trailing-cr "
            "suppress-blank-empty suppress-common-lines tabsize= text to-file= "
            "unidirectional-new-file unified:: version width="
        ),
        input="-X --exclude-from",
    ),
    "diff3": model(
        "3AEL:TXaeimvx",
        (
            "diff-program= easy-only ed help initial-tab label= merge overlap-only "
            "show-all show-overlap strip-trailing-cr text version"
        ),
        code="--diff-program",
    ),
    "sdiff": model(
        "BEHI:WZabdilo:stvw:",
        (
            "diff-program= expand-tabs help ignore-all-space ignore-blank-lines "
            "ignore-case ignore-matching-lines= ignore-space-change "
            "ignore-tab-expansion ignore-trailing-space left-column minimal output= "
            "speed-large-files strip-trailing-cr suppress-common-lines tabsize= text "
            "version width="
        ),
        code="--diff-program",
        output="-o --output",
    ),
    "cmp": model(
        "bi:ln:sv",
        "bytes= help ignore-initial= print-bytes quiet silent verbose version",
    ),
    "comm": model(
        "123z",
        ("check-order help nocheck-order output-delimiter= total version zero-terminated"),
    ),
    "jq": model(
        "CMRScenrsajL:f:",
        (
            "arg== argjson== args jsonargs rawfile== slurpfile== tab indent= from-file= "
            "seq stream stream-errors ascii-output join-output raw-output raw-output0 "
            "compact-output null-input exit-status slurp sort-keys color-output "
            "monochrome-output unbuffered help version raw-input build-configuration"
        ),
        input="-f --from-file --rawfile --slurpfile",
        unknown="-L",
    ),
    "od": model(
        "A:N:S:abcdfij:lost:vw::x",
        (
            "address-radix= endian= format= help output-duplicates read-bytes= "
            "skip-bytes= strings:: traditional version width::"
        ),
    ),
    "hexdump": model(
        "CLVbcde:f:hn:os:vx",
        (
            "canonical color:: format= format-file= help length= no-squeezing "
            "one-byte-char one-byte-octal skip= two-bytes-decimal two-bytes-hex "
            "two-bytes-octal version"
        ),
        input="-f --format-file",
    ),
    "strings": model(
        "T:UVade:fhn:os:t:vw:",
        (
            "all bytes= data encoding= help include-all-whitespace= output-separator= "
            "print-file-name radix= target= unicode= version"
        ),
    ),
    "base32": model("diw:", "decode help ignore-garbage version wrap="),
    "base64": model("diw:", "decode help ignore-garbage version wrap="),
    "numfmt": model(
        "Md:z",
        (
            "debug delimiter= field= format= from= from-unit= grouping header:: help "
            "invalid= padding= round= suffix= to= to-unit= version zero-terminated"
        ),
    ),
    "expr": model("", "help version"),
    "factor": model("", "help version"),
    "seq": model("f:s:w", "equal-width format= help separator= version", numeric=True),
    "sleep": model("", "help version"),
    "yes": model("", "help version"),
    "tput": model("S:T:Vx", ""),
    "printenv": model("0", "help null version"),
    "look": model("Vadfht:", "alphanum alternative help ignore-case terminate= version"),
    "iconv": model(
        "Vcf:lo:st:",
        "from-code= help list output= silent to-code= usage verbose version",
        output="-o --output",
    ),
    "tsort": model("", "help version"),
    "pr": model(
        "0123456789C:D:FJN:S::TW:acde::fhi::l:mn::o:rs::tvw:",
        (
            "across columns= date-format= double-space expand-tabs:: "
            "first-line-number= form-feed header= help indent= join-lines length= "
            "merge no-file-warnings number-lines:: omit-header omit-pagination "
            "output-tabs:: page-width= sep-string:: separator:: show-control-chars "
            "show-nonprinting version width="
        ),
    ),
    "zcat": model(
        "S:flqrtv",
        "force help list quiet recursive suffix= synchronous test verbose version",
    ),
    "bzcat": model(
        "19LVcdfhkqstvz",
        (
            "best compress decompress fast force help keep license quiet small stdout "
            "test verbose version"
        ),
    ),
    "xzcat": model(
        "09HT:Vcdefhklqtvz",
        (
            "compress decompress extreme force help keep list long-help quiet stdout "
            "test threads= verbose version"
        ),
    ),
    "lzcat": model(
        "09HT:Vcdefhklqtvz",
        (
            "compress decompress extreme force help keep list long-help quiet stdout "
            "test threads= verbose version"
        ),
    ),
    "mkdir": model("Zm:pv", "context:: help mode= parents verbose version", mode="-m --mode"),
    "cp": model(
        "HLPRS:TZabdfilnprst:uvx",
        (
            "archive attributes-only backup:: context:: copy-contents dereference "
            "force help interactive link no-clobber no-dereference no-preserve= "
            "no-target-directory one-file-system parents preserve:: recursive "
            "reflink:: remove-destination sparse= strip-trailing-slashes suffix= "
            "symbolic-link target-directory= update verbose version"
        ),
        output="-t --target-directory",
    ),
    "install": model(
        "CDS:TZbcdg:m:o:pst:v",
        (
            "backup:: compare context:: directory group= help mode= "
            "no-target-directory owner= preserve-context preserve-timestamps strip "
            "strip-program= suffix= target-directory= verbose version"
        ),
        output="-t --target-directory",
        code="--strip-program",
        mode="-m --mode -o --owner -g --group",
    ),
    "ln": model(
        "FLPS:Tbdfinrst:v",
        (
            "backup:: directory force help interactive logical no-dereference "
            "no-target-directory physical relative suffix= symbolic target-directory= "
            "verbose version"
        ),
        output="-t --target-directory",
    ),
    "tee": model("aip", "append help ignore-interrupts output-error:: version"),
    "mktemp": model("dp:qtu", "directory dry-run help quiet suffix= tmpdir:: version"),
    "rmdir": model("pv", "help ignore-fail-on-non-empty parents verbose version"),
    "gzip": model(
        "19LNS:Vcdfhklnqrtv",
        (
            "best decompress fast force help keep license list name no-name quiet "
            "recursive rsyncable stdout suffix= synchronous test verbose version"
        ),
        numeric=True,
    ),
    "gunzip": model(
        "NS:cfklnqrtv",
        (
            "force help keep list name no-name quiet recursive stdout suffix= "
            "synchronous test verbose version"
        ),
        numeric=True,
    ),
    "bzip2": model(
        "19LVcdfhkqstvz",
        (
            "best compress decompress fast force help keep license quiet small stdout "
            "test verbose version"
        ),
        numeric=True,
    ),
    "bunzip2": model(
        "19LVcdfhkqstvz",
        (
            "best compress decompress fast force help keep license quiet small stdout "
            "test verbose version"
        ),
        numeric=True,
    ),
    "xz": model(
        "09HT:Vcdefhklqtvz",
        (
            "compress decompress extreme force help keep list long-help quiet stdout "
            "test threads= verbose version"
        ),
        numeric=True,
    ),
    "unxz": model(
        "09HT:Vcdefhklqtvz",
        (
            "compress decompress extreme force help keep list long-help quiet stdout "
            "test threads= verbose version"
        ),
        numeric=True,
    ),
    "zstd": model(
        "D:HSVcdfhklo:qrv",
        (
            "adapt auto-threads= decompress dict exclude-compressed fast:: filelist= "
            "force format= help keep long:: maxdict= no-dict output-dir-flat= "
            "output-dir-mirror= patch-from= priority= quiet rm rsyncable "
            "single-thread size-hint= stdout stream-size= "
            "target-compressed-block-size= test trace= train train-cover:: "
            "train-fastcover:: train-legacy:: ultra verbose version"
        ),
        output="-o --output-dir-flat --output-dir-mirror",
        input="--filelist",
        numeric=True,
    ),
    "unzstd": model(
        "D:HSVcdfhklo:qrv",
        (
            "adapt auto-threads= decompress dict exclude-compressed fast:: filelist= "
            "force format= help keep long:: maxdict= no-dict output-dir-flat= "
            "output-dir-mirror= patch-from= priority= quiet rm rsyncable "
            "single-thread size-hint= stdout stream-size= "
            "target-compressed-block-size= test trace= train train-cover:: "
            "train-fastcover:: train-legacy:: ultra verbose version"
        ),
        output="-o --output-dir-flat --output-dir-mirror",
        input="--filelist",
        numeric=True,
    ),
    "lz4": model(
        "19B:DVcdfklmqrtvz",
        "best content-size fast:: favor-dec list= no-frame-crc rm",
        numeric=True,
    ),
    "logger": model(
        "P:S:TVdef:hin:p:st:u:",
        (
            "file= help id:: journald:: msgid= no-act octet-count port= prio-prefix "
            "priority= rfc3164 rfc5424:: sd-id= sd-param= server= size= skip-empty "
            "socket= socket-errors:: stderr tag= tcp udp version"
        ),
        input="-f --file",
        export="-n --server -P --port",
        unknown="-u --socket",
    ),
    "more": model(
        "Vcdefhln:psu",
        (
            "clean-print exit-on-eof help lines= logical no-pause plain print-over "
            "silent squeeze version"
        ),
    ),
    "mv": model(
        "S:TZbfint:uv",
        "backup:: context force help interactive no-clobber no-target-directory "
        "strip-trailing-slashes suffix= target-directory= update:: verbose version exchange",
        output="-t --target-directory",
    ),
    "umask": model("pS", ""),
    "touch": model(
        "acd:fhmr:t:",
        "date= help no-create no-dereference reference= time= version",
    ),
    "date": model(
        "I::Rd:f:r:s:u",
        "date= debug file= help iso-8601:: reference= resolution rfc-3339= rfc-email set= "
        "universal utc version",
        input="-f --file",
    ),
    "dmesg": model(
        "CDEF:HJLPSTVWcdef:hkl:n:prs:tuwx",
        "buffer-size= clear color:: console-level= console-off console-on ctime decode "
        "facility= file= follow follow-new force-prefix help human json kernel level= "
        "noescape nopager notime raw read-clear reltime show-delta since= syslog "
        "time-format= until= userspace version",
        input="-F --file",
    ),
    "journalctl": model(
        "D:F:M:NS:U:ab::c:efg:hkmn::o:p:qrt:u:x",
        "after-cursor= all boot:: case-sensitive:: catalog cursor= cursor-file= directory= "
        "disk-usage dmesg dump-catalog facility= field= fields file= flush follow force "
        "grep= header help identifier= image= interval= lines:: list-boots list-catalog "
        "machine= merge namespace= no-full no-hostname no-pager no-tail output= "
        "output-fields= pager-end priority= quiet relinquish-var reverse root= rotate "
        "setup-keys show-cursor since= smart-relinquish-var sync system unit= until= "
        "update-catalog user user-unit= utc vacuum-files= vacuum-size= vacuum-time= verify "
        "verify-key= version full exclude-identifier= invocation= list-invocations "
        "list-namespaces",
        input="--file -D --directory",
        output="--cursor-file",
        unknown="--root --image -M --machine",
        numeric=True,
    ),
}
SPECS.update(SYSTEM_SPECS)
SPECS["unix2dos"] = SPECS["dos2unix"]
SPECS["dir"] = SPECS["vdir"] = SPECS["ls"]
SPECS["plocate"] = SPECS["mlocate"] = SPECS["locate"]
SPECS["zless"] = SPECS["zmore"] = SPECS["more"]
SPECS["bzgrep"] = SPECS["xzgrep"] = SPECS["zgrep"]
SPECS["zcmp"] = SPECS["cmp"]
SPECS["zdiff"] = SPECS["diff"]
