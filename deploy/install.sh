#!/bin/sh
# Installs ogi-audit as a systemd service. Run as root from a source checkout after
# `cargo build --release --locked`, or with a prebuilt binary:
#
#   sudo deploy/install.sh                          # binary from target/release/
#   sudo deploy/install.sh --binary ./ogi-audit     # a prebuilt binary
#   sudo deploy/install.sh --enable                 # ... and start it now and at boot
#
# Safe to run again (for an upgrade, too): users, groups and folders that exist are left as they
# are, an existing /etc/ogi-audit/ogi-audit.toml, smtp.env or rules folder is never overwritten.
# What it replaces: the binary, the unit file, the documentation, the reference copies
# /etc/ogi-audit/ogi-audit.toml.example and /usr/local/share/ogi-audit/rules.
#
# Layout (the paths the unit deploy/ogi-audit.service allows the daemon to write):
#   /usr/local/bin/ogi-audit                root:root        0755
#   /etc/ogi-audit/                         root:ogi-audit   0750  config, rules (read-only to the daemon)
#   /etc/ogi-audit/smtp.env                 root:root        0600  OGI_SMTP_PASSWORD=...
#   /srv/ogi-audit/inbox/                   ogi-audit:GROUP  2770  the share's drop folder
#   /srv/ogi-audit/archive/, quarantine/    ogi-audit:ogi-audit 0750
#   /var/lib/ogi-audit/                     ogi-audit:ogi-audit 0750  the SQLite database
#   /var/spool/ogi-audit/outbox/            ogi-audit:ogi-audit 0750  .eml files (transport = "file")
# GROUP is ogi-inbox unless --inbox-group names the share's own group.
set -eu

usage() {
    cat <<'EOF'
Usage: install.sh [--binary PATH] [--inbox-group GROUP] [--enable]

  --binary PATH        the ogi-audit binary to install (default: target/release/ogi-audit of
                       the checkout this script is in)
  --inbox-group GROUP  the group whose members may drop reports into the inbox (default:
                       ogi-inbox, created when missing; an existing group is used as is)
  --enable             also run `systemctl enable --now ogi-audit` (refused when
                       `ogi-audit validate --offline` finds a problem)
  -h, --help           this text
EOF
}

say() { printf '%s\n' "install.sh: $*"; }
die() {
    printf '%s\n' "install.sh: error: $*" >&2
    exit 1
}

SRC=$(cd "$(dirname "$0")/.." && pwd)
BINARY=""
INBOX_GROUP=ogi-inbox
ENABLE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --binary)
            [ $# -ge 2 ] || die "--binary needs a path"
            BINARY=$2
            shift 2
            ;;
        --binary=*)
            BINARY=${1#--binary=}
            shift
            ;;
        --inbox-group)
            [ $# -ge 2 ] || die "--inbox-group needs a group name"
            INBOX_GROUP=$2
            shift 2
            ;;
        --inbox-group=*)
            INBOX_GROUP=${1#--inbox-group=}
            shift
            ;;
        --enable)
            ENABLE=1
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            die "unknown argument: $1"
            ;;
    esac
done

USER_NAME=ogi-audit
BIN_DEST=/usr/local/bin/ogi-audit
CONF_DIR=/etc/ogi-audit
CONF=$CONF_DIR/ogi-audit.toml
UNIT=/etc/systemd/system/ogi-audit.service
DOC_DIR=/usr/local/share/doc/ogi-audit
SHARE_DIR=/usr/local/share/ogi-audit

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...)"
for f in deploy/ogi-audit.service deploy/ogi-audit.toml rules; do
    [ -e "$SRC/$f" ] || die "$SRC/$f is missing: run this script from an ogi-audit source tree"
done
if [ -z "$BINARY" ]; then
    BINARY=$SRC/target/release/ogi-audit
    [ -f "$BINARY" ] || die "no binary at $BINARY: run \`cargo build --release --locked\` first, or give --binary PATH"
fi
if [ ! -f "$BINARY" ] || [ ! -x "$BINARY" ]; then
    die "$BINARY is not an executable file"
fi
VERSION=$("$BINARY" --version) || die "$BINARY does not run"
command -v pdftotext >/dev/null 2>&1 ||
    say "note: pdftotext is not installed; PDF reports will be quarantined as unsupported (apt-get install poppler-utils)"
command -v tesseract >/dev/null 2>&1 ||
    say "note: tesseract is not installed; scanned PDFs will be quarantined (apt-get install tesseract-ocr tesseract-ocr-chi-sim)"

# --- Users and groups ------------------------------------------------------------------------
NOLOGIN=/usr/sbin/nologin
[ -x "$NOLOGIN" ] || NOLOGIN=/sbin/nologin
if ! getent group "$USER_NAME" >/dev/null; then
    groupadd --system "$USER_NAME"
    say "created group $USER_NAME"
fi
if ! getent passwd "$USER_NAME" >/dev/null; then
    useradd --system --gid "$USER_NAME" --home-dir /var/lib/ogi-audit --no-create-home \
        --shell "$NOLOGIN" --comment "ogi-audit daemon" "$USER_NAME"
    say "created user $USER_NAME"
fi
if ! getent group "$INBOX_GROUP" >/dev/null; then
    groupadd --system "$INBOX_GROUP"
    say "created group $INBOX_GROUP (add the share's users to it: usermod -aG $INBOX_GROUP USER)"
fi
# Membership lets `runuser -u ogi-audit -- ogi-audit ...` read the inbox as the daemon does
# (the unit grants the group itself through SupplementaryGroups=).
if ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$INBOX_GROUP"; then
    usermod --append --groups "$INBOX_GROUP" "$USER_NAME"
fi

# --- Folders ---------------------------------------------------------------------------------
# A folder that exists is left as it is (it may be a mounted share with its own permissions).
folder() { # path owner group mode
    if [ -d "$1" ]; then
        say "kept $1 ($(stat -c '%U:%G %a' "$1"))"
    else
        install -d -o "$2" -g "$3" -m "$4" "$1"
        say "created $1 ($2:$3 $4)"
    fi
}
folder /srv/ogi-audit root root 0755
folder /srv/ogi-audit/inbox "$USER_NAME" "$INBOX_GROUP" 2770
folder /srv/ogi-audit/archive "$USER_NAME" "$USER_NAME" 0750
folder /srv/ogi-audit/quarantine "$USER_NAME" "$USER_NAME" 0750
folder /var/lib/ogi-audit "$USER_NAME" "$USER_NAME" 0750
folder /var/spool/ogi-audit root root 0755
folder /var/spool/ogi-audit/outbox "$USER_NAME" "$USER_NAME" 0750
folder "$CONF_DIR" root "$USER_NAME" 0750

# --- Binary, documentation, reference copies -------------------------------------------------
install -m 0755 -o root -g root "$BINARY" "$BIN_DEST"
say "installed $BIN_DEST ($VERSION)"
install -d -m 0755 "$DOC_DIR" "$SHARE_DIR"
install -m 0644 "$SRC/deploy/README.md" "$DOC_DIR/DEPLOY.md"
[ -f "$SRC/README.md" ] && install -m 0644 "$SRC/README.md" "$DOC_DIR/README.md"
[ -f "$SRC/config/ogi-audit.toml" ] &&
    install -m 0644 "$SRC/config/ogi-audit.toml" "$DOC_DIR/ogi-audit.toml.reference"
# The shipped rule pack, to compare with the one in use (diff -r).
rm -rf "$SHARE_DIR/rules.new"
cp -R "$SRC/rules" "$SHARE_DIR/rules.new"
rm -rf "$SHARE_DIR/rules"
mv "$SHARE_DIR/rules.new" "$SHARE_DIR/rules"
chmod -R u=rwX,go=rX "$SHARE_DIR/rules"

# --- Configuration (never overwritten) -------------------------------------------------------
install -m 0640 -o root -g "$USER_NAME" "$SRC/deploy/ogi-audit.toml" "$CONF.example"
if [ -e "$CONF" ]; then
    say "kept $CONF (the new sample is $CONF.example)"
else
    install -m 0640 -o root -g "$USER_NAME" "$SRC/deploy/ogi-audit.toml" "$CONF"
    say "installed $CONF: edit it (mail addresses, SMTP server, routes)"
fi
if [ -e "$CONF_DIR/rules" ]; then
    say "kept $CONF_DIR/rules (the shipped pack is $SHARE_DIR/rules)"
else
    cp -R "$SRC/rules" "$CONF_DIR/rules"
    chown -R root:"$USER_NAME" "$CONF_DIR/rules"
    chmod -R u=rwX,g=rX,o= "$CONF_DIR/rules"
    say "installed $CONF_DIR/rules"
fi
if [ ! -e "$CONF_DIR/smtp.env" ]; then
    (
        umask 077
        cat >"$CONF_DIR/smtp.env" <<'EOF'
# Read by systemd (EnvironmentFile=) before ogi-audit starts; keep this file root:root 0600.
# The SMTP password for [mail.smtp] username; the config names the variable (password_env).
#OGI_SMTP_PASSWORD=
EOF
    )
    say "created $CONF_DIR/smtp.env (0600): put OGI_SMTP_PASSWORD=... in it"
fi

# --- systemd ---------------------------------------------------------------------------------
install -m 0644 -o root -g root "$SRC/deploy/ogi-audit.service" "$UNIT"
say "installed $UNIT"
DROPIN_DIR=$UNIT.d
DROPIN=$DROPIN_DIR/inbox-group.conf
if [ "$INBOX_GROUP" != ogi-inbox ]; then
    install -d -m 0755 "$DROPIN_DIR"
    cat >"$DROPIN" <<EOF
# Written by deploy/install.sh --inbox-group $INBOX_GROUP
[Service]
SupplementaryGroups=
SupplementaryGroups=$INBOX_GROUP
EOF
    chmod 0644 "$DROPIN"
    say "installed $DROPIN"
fi

VALID=unknown
CHECK="runuser -u $USER_NAME -- $BIN_DEST --config $CONF status"
if "$BIN_DEST" help validate >/dev/null 2>&1; then
    CHECK="runuser -u $USER_NAME -- $BIN_DEST --config $CONF validate --offline"
    if runuser -u "$USER_NAME" -- "$BIN_DEST" --config "$CONF" validate --offline; then
        VALID=yes
    else
        VALID=no
        say "warning: \`ogi-audit validate --offline\` found problems in $CONF (above)"
    fi
fi

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$ENABLE" -eq 1 ]; then
        [ "$VALID" != no ] || die "not enabling ogi-audit: fix the configuration first"
        systemctl enable --now ogi-audit.service
        say "ogi-audit enabled and started (a running one keeps the old binary until restarted)"
    fi
else
    say "systemd is not running here: skipped systemctl daemon-reload"
    [ "$ENABLE" -eq 0 ] || die "--enable needs a running systemd"
fi

cat <<EOF

Next steps:
  1. Edit $CONF: from, fallback, [mail.smtp] host/username, [[mail.routes]].
  2. Put the SMTP password in $CONF_DIR/smtp.env as OGI_SMTP_PASSWORD=... (root:root, 0600).
  3. Let the share's users write to the inbox: usermod -aG $INBOX_GROUP USER (see $DOC_DIR/DEPLOY.md).
  4. Check:  $CHECK
  5. Start:  systemctl enable --now ogi-audit      Logs: journalctl -u ogi-audit -f
  After an upgrade (this script again): systemctl restart ogi-audit
EOF
