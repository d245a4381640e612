#!/usr/bin/env bash
# Installs Frontdesk as a hardened systemd service on Debian/Ubuntu.
#
# Safe to run again, and the way to upgrade: the keys, the database and the config are never
# overwritten. Only the binary and the unit file are replaced.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: sudo ./install.sh [--binary PATH] [--prefix DIR] [--destdir DIR] [--no-systemd]

Installs Frontdesk:
  PREFIX/bin/frontdesk                   the binary (PREFIX is /usr/local by default)
  /etc/frontdesk/frontdesk.toml          the config (root:frontdesk 0640), kept if present
  /etc/frontdesk/credentials/            the three keys (root only, 0700/0600), kept if present
  /var/lib/frontdesk/                    the database (frontdesk:frontdesk 0700)
  /etc/systemd/system/frontdesk.service  the hardened unit; it passes the keys in with
                                         LoadCredential=, so the service user cannot read
                                         /etc/frontdesk/credentials itself

It creates the system user `frontdesk` (no login shell, no home), runs `frontdesk init` only
when keys or config are missing, and, when systemd is running, enables and (re)starts the
service. Without systemd it prints the command that runs Frontdesk in the foreground.

Options:
  --binary PATH   install this binary instead of building one with `cargo build --release`
  --prefix DIR    install the binary under DIR/bin (default /usr/local)
  --destdir DIR   install into DIR as a staging root (also the DESTDIR environment variable);
                  no user is created, ownership is best-effort, systemctl is never called
  --no-systemd    never call systemctl; print what to run instead
  -h, --help      show this help
EOF
}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
	printf 'install.sh: error: %s\n' "$*" >&2
	exit 1
}

orig_args=("$@")
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVICE_USER=frontdesk
KEY_NAMES=(PHI_MASTER_KEY HIPAA_AUDIT_KEY PHI_RSA_PRIVATE_KEY)

prefix=/usr/local
destdir=${DESTDIR:-}
binary=
use_systemd=yes

while (($# > 0)); do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--binary)
		(($# >= 2)) || die "$1 needs a path (see --help)"
		binary=$2
		shift 2
		;;
	--prefix)
		(($# >= 2)) || die "$1 needs a directory (see --help)"
		prefix=$2
		shift 2
		;;
	--destdir)
		(($# >= 2)) || die "$1 needs a directory (see --help)"
		destdir=$2
		shift 2
		;;
	--binary=*)
		binary=${1#*=}
		shift
		;;
	--prefix=*)
		prefix=${1#*=}
		shift
		;;
	--destdir=*)
		destdir=${1#*=}
		shift
		;;
	--no-systemd)
		use_systemd=no
		shift
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done

# Paths are written into the unit (sed) and the config (TOML strings); keep them plain.
safe_path='^/[A-Za-z0-9._/+-]*$'
[[ $prefix =~ $safe_path ]] || die "--prefix must be an absolute path of plain characters, not '$prefix'"
prefix=${prefix%/}
if [[ -n $destdir ]]; then
	[[ $destdir == /* ]] || destdir=$PWD/$destdir
	[[ $destdir =~ $safe_path ]] || die "--destdir must be a path of plain characters, not '$destdir'"
	destdir=${destdir%/}
fi

# Where things live on the target system; "$destdir$X" is where they are written now.
BIN=$prefix/bin/frontdesk
CONF_DIR=/etc/frontdesk
CONFIG=$CONF_DIR/frontdesk.toml
CRED_DIR=$CONF_DIR/credentials
DATA_DIR=/var/lib/frontdesk
UNIT=/etc/systemd/system/frontdesk.service
UNIT_SOURCE=$SRC_DIR/systemd/frontdesk.service

[[ -f $UNIT_SOURCE ]] || die "$UNIT_SOURCE is missing; run install.sh from a Frontdesk source tree"
if [[ -z $destdir && $EUID -ne 0 ]]; then
	die "installing into / needs root: run 'sudo $0 ${orig_args[*]}', or pass --destdir DIR to stage the files"
fi

# --- the binary -------------------------------------------------------------------------

build_binary() {
	[[ -f $SRC_DIR/Cargo.toml ]] || die "no --binary given and no Cargo.toml in $SRC_DIR to build from"
	local -a as_user=()
	local cargo home
	cargo=$(command -v cargo || true)
	# Under sudo, build as the invoking user: no root-owned target/ in their checkout, and
	# their rustup toolchain (root's PATH usually has no cargo at all).
	if [[ $EUID -eq 0 && -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
		as_user=(runuser -u "$SUDO_USER" --)
		home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
		if [[ -z $cargo && -x $home/.cargo/bin/cargo ]]; then
			cargo=$home/.cargo/bin/cargo
		fi
	fi
	[[ -n $cargo ]] || die "cargo not found. Build first with 'cargo build --release', then run: sudo $0 --binary target/release/frontdesk"
	say "Building frontdesk (cargo build --release)"
	"${as_user[@]}" "$cargo" build --release --locked --manifest-path "$SRC_DIR/Cargo.toml"
	binary=$SRC_DIR/target/release/frontdesk
}

if [[ -z $binary ]]; then
	build_binary
fi
[[ -f $binary && -x $binary ]] || die "$binary is not an executable file"
version=$("$binary" --version) || die "$binary does not run ($binary --version failed)"

# --- ownership --------------------------------------------------------------------------

# Into the real root we create the service user and own files as the unit expects. Into a
# DESTDIR (a staging root, or a test) we create no user: the user would belong to this
# machine, not the target. There, ownership is set only when we are root and the user
# already exists, and skipped otherwise; modes are always set.
if [[ -z $destdir ]]; then
	if ! getent passwd "$SERVICE_USER" >/dev/null; then
		say "Creating system user $SERVICE_USER"
		group_opt=(--user-group)
		if getent group "$SERVICE_USER" >/dev/null; then
			group_opt=(--gid "$SERVICE_USER")
		fi
		useradd --system "${group_opt[@]}" --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "Frontdesk service" "$SERVICE_USER"
	fi
fi
can_chown_root=no
can_chown_service=no
if [[ $EUID -eq 0 ]]; then
	can_chown_root=yes
	if getent passwd "$SERVICE_USER" >/dev/null; then
		can_chown_service=yes
	fi
fi
if [[ -n $destdir && $can_chown_service == no ]]; then
	note "(staging into $destdir: files keep the current owner; the service user is not set)"
fi

# own [-R] OWNER:GROUP PATH...: best-effort chown, as explained above.
own() {
	local -a flags=()
	if [[ $1 == -R ]]; then
		flags=(-R)
		shift
	fi
	local owner=$1
	shift
	case $owner in
	root:root) [[ $can_chown_root == yes ]] || return 0 ;;
	*) [[ $can_chown_service == yes ]] || return 0 ;;
	esac
	chown "${flags[@]}" "$owner" "$@"
}

# Replaces DEST with SRC only if they differ: written beside it, then renamed, so a running
# binary is never half-overwritten. Prints "installed", "updated" or "unchanged".
replace_file() {
	local src=$1 dest=$2 mode=$3 tmp
	if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
		chmod "$mode" "$dest"
		echo unchanged
		return
	fi
	local what=installed
	[[ -e $dest ]] && what=updated
	tmp=$(mktemp "$dest.new.XXXXXX")
	cat "$src" >"$tmp"
	chmod "$mode" "$tmp"
	own root:root "$tmp"
	mv -f "$tmp" "$dest"
	echo "$what"
}

say "Installing $version"
install -d -m 0755 "$destdir$prefix/bin"
binary_status=$(replace_file "$binary" "$destdir$BIN" 0755)
note "binary   $BIN ($binary_status)"

# --- directories, keys, config, data ----------------------------------------------------

# /etc/frontdesk: readable by the service group, for the config. credentials/: root only.
install -d -m 0750 "$destdir$CONF_DIR"
own root:"$SERVICE_USER" "$destdir$CONF_DIR"
install -d -m 0700 "$destdir$CRED_DIR"
own root:root "$destdir$CRED_DIR"
install -d -m 0700 "$destdir$DATA_DIR"

# Keys copied in by hand (moving to a new server) keep whatever mode the copy gave them, and
# init refuses keys others can read: they are made root's and 0600 before it runs.
for name in "${KEY_NAMES[@]}"; do
	if [[ -e $destdir$CRED_DIR/$name ]]; then
		chmod 0600 "$destdir$CRED_DIR/$name"
		own root:root "$destdir$CRED_DIR/$name"
	fi
done

keys_present=yes
for name in "${KEY_NAMES[@]}"; do
	[[ -e $destdir$CRED_DIR/$name ]] || keys_present=no
done
config_present=no
[[ -e $destdir$CONFIG ]] && config_present=yes

if [[ $keys_present == yes && $config_present == yes ]]; then
	say "Kept the existing keys in $CRED_DIR and the config $CONFIG (init not run)"
else
	say "Running frontdesk init"
	# Keys must come from (and go to) the credentials dir, never from this shell's environment.
	unset_env=(-u FRONTDESK_CONFIG -u FRONTDESK_DATA_DIR -u FRONTDESK_KEYS_DIR -u CREDENTIALS_DIRECTORY)
	for name in "${KEY_NAMES[@]}"; do
		unset_env+=(-u "$name" -u "${name}_FILE")
	done
	# init's closing hint ("Start it with ...") does not fit this layout; ours follows below.
	if ! env "${unset_env[@]}" "$destdir$BIN" init --config "$destdir$CONFIG" \
		--data-dir "$destdir$DATA_DIR" --keys-dir "$destdir$CRED_DIR" |
		sed -e '/^Start it with:/d' -e 's/^/    /'; then
		die "frontdesk init failed (its message is above); no existing key, config or data was changed"
	fi
	if [[ $config_present == no && -n $destdir ]]; then
		# init wrote the staging paths into the new config; the target reads the real ones.
		tmp=$(mktemp "$destdir$CONFIG.new.XXXXXX")
		while IFS= read -r line || [[ -n $line ]]; do
			case $line in
			"data_dir = \"$destdir/"* | "keys_dir = \"$destdir/"*)
				key=${line%% *}
				line="$key = \"${line#"$key = \"$destdir"}"
				;;
			*) ;;
			esac
			printf '%s\n' "$line"
		done <"$destdir$CONFIG" >"$tmp"
		mv -f "$tmp" "$destdir$CONFIG"
	fi
fi

# The service reads the config through its group; only root may change it.
chmod 0640 "$destdir$CONFIG"
own root:"$SERVICE_USER" "$destdir$CONFIG"
for name in "${KEY_NAMES[@]}"; do
	chmod 0600 "$destdir$CRED_DIR/$name"
	own root:root "$destdir$CRED_DIR/$name"
done
# init ran as root; the database belongs to the service (StateDirectory= would chown it too).
chmod 0700 "$destdir$DATA_DIR"
own -R "$SERVICE_USER:$SERVICE_USER" "$destdir$DATA_DIR"

# --- the unit ---------------------------------------------------------------------------

install -d -m 0755 "$destdir$(dirname "$UNIT")"
unit_tmp=$(mktemp)
trap 'rm -f "$unit_tmp"' EXIT
sed "s|^ExecStart=/usr/local/bin/frontdesk |ExecStart=$BIN |" "$UNIT_SOURCE" >"$unit_tmp"
grep -q "^ExecStart=$BIN serve\$" "$unit_tmp" || die "$UNIT_SOURCE has no 'ExecStart=/usr/local/bin/frontdesk serve' line to point at $BIN"
unit_status=$(replace_file "$unit_tmp" "$destdir$UNIT" 0644)
note "unit     $UNIT ($unit_status)"
note "config   $CONFIG"
note "keys     $CRED_DIR"
note "data     $DATA_DIR"

# --- start ------------------------------------------------------------------------------

systemd_running=no
[[ -d /run/systemd/system ]] && systemd_running=yes

print_foreground_command() {
	local sudo=
	[[ -z ${SUDO_USER:-} ]] || sudo='sudo '
	# Only root can read the keys. Root reads them into the environment, then setpriv drops
	# to the service user (keeping that environment, unlike sudo -u) before frontdesk starts,
	# so nothing runs as root and no readable copy of a key is left on disk.
	cat <<EOF
Run Frontdesk in the foreground (Ctrl-C stops it) as root with:

  ${sudo}sh -c 'exec env FRONTDESK_CONFIG=$CONFIG \\
    PHI_MASTER_KEY="\$(cat $CRED_DIR/PHI_MASTER_KEY)" \\
    HIPAA_AUDIT_KEY="\$(cat $CRED_DIR/HIPAA_AUDIT_KEY)" \\
    PHI_RSA_PRIVATE_KEY="\$(cat $CRED_DIR/PHI_RSA_PRIVATE_KEY)" \\
    setpriv --reuid=$SERVICE_USER --regid=$SERVICE_USER --clear-groups --no-new-privs $BIN serve'
EOF
}

echo
if [[ -n $destdir ]]; then
	say "Staged into $destdir; systemctl not called. On the target, start it with:"
	note "systemctl daemon-reload && systemctl enable --now frontdesk"
	echo "Or, without systemd:"
	print_foreground_command
elif [[ $use_systemd == yes && $systemd_running == yes ]]; then
	say "Enabling and (re)starting frontdesk.service"
	systemctl daemon-reload
	systemctl enable frontdesk.service
	# restart, not start: after an upgrade the running process must pick up the new binary.
	systemctl restart frontdesk.service ||
		die "frontdesk.service did not start; see: journalctl -u frontdesk -n 50 (exit status 78 means fix the config or keys)"
	note "Status: systemctl status frontdesk    Logs: journalctl -u frontdesk -f"
elif [[ $systemd_running == yes ]]; then
	say "--no-systemd: systemctl not called. To start the service:"
	note "systemctl daemon-reload && systemctl enable --now frontdesk"
else
	if [[ $use_systemd == yes ]]; then
		say "systemd is not running here (no /run/systemd/system); the unit is installed for later."
	else
		say "--no-systemd: systemctl not called."
	fi
	print_foreground_command
fi
echo
note "Next: edit $CONFIG (WhatsApp gateway, OpenAI, Supabase), then restart Frontdesk."
note "Back up $CRED_DIR somewhere safe, apart from database backups."
