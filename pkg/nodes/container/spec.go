package container

// DefaultPath is a container's PATH when its image sets none, as containerd's.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Spec is everything the init needs to become a container. The node agent writes it; the init
// reads it from a pipe, so nothing of it shows in the process's command line.
type Spec struct {
	// NetNS is the named network namespace to run in: the pod's, or the node's for hostNetwork.
	NetNS string `json:"netns,omitempty"`
	// Hostname is the container's hostname (its own UTS namespace).
	Hostname string `json:"hostname,omitempty"`
	// Dir holds the container's writable layer: Dir/upper and Dir/work of the overlay whose
	// lower layers are Lower, mounted at Dir/rootfs.
	Dir string `json:"dir,omitempty"`
	// Resources, when set, are its limits, in a cgroup of its own (see CgroupsAvailable).
	Resources *Resources `json:"resources,omitempty"`
	// Lower are the image's unpacked layers, the top-most first; none means the host's root
	// (a built-in image).
	Lower []string `json:"lower,omitempty"`
	// Mounts are bind-mounted into the root filesystem, in order.
	Mounts []Mount `json:"mounts,omitempty"`
	// Argv is the command; a relative Argv[0] is looked up in the container's PATH.
	Argv []string `json:"argv"`
	Env  []string `json:"env,omitempty"`
	// WorkingDir is made if it does not exist, as container runtimes do.
	WorkingDir string `json:"workingDir,omitempty"`
	// UID and GID, when set, are the user the command runs as (runAsUser, runAsGroup), with
	// Groups as supplementary groups.
	UID    *int64   `json:"uid,omitempty"`
	GID    *int64   `json:"gid,omitempty"`
	Groups []uint32 `json:"groups,omitempty"`
	// Sysctls are the pod's namespaced kernel parameters (net.* of its network namespace,
	// kernel.shm*/msg*/sem and fs.mqueue.* of the container's IPC namespace), by name.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// Capabilities, when not nil, are all the capabilities the container may have (its bounding
	// set; a non-root user starts with none of them), by name without "CAP_"; nil is every one
	// (a privileged container), and none an empty list (kept apart in JSON: no omitempty).
	Capabilities []string `json:"capabilities"`
	// NoNewPrivileges keeps the container's processes from gaining privileges through exec of
	// setuid or file-capability programs (allowPrivilegeEscalation: false).
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// Cgroups are the container's own cgroups, bind-mounted read-only over the host's
	// /sys/fs/cgroup, unless the container is privileged (nil Capabilities). Start sets them in
	// what it sends the init.
	Cgroups []Mount `json:"cgroups,omitempty"`
	// OOMScoreAdj, when set, is the container's oom_score_adj (the kubelet's by QoS class); one
	// below the node agent's own stays at the agent's where the host denies minaks
	// CAP_SYS_RESOURCE.
	OOMScoreAdj *int `json:"oomScoreAdj,omitempty"`
	// PIDNamespaceOf, when set, is a process whose PID namespace the container joins (an
	// ephemeral container's target container) instead of having one of its own.
	PIDNamespaceOf int `json:"-"`
}

// Mount is a bind mount from the host into the container; or, with Layers, of an image
// volume: the read-only union of an image's layers (the top-most first), mounted in the
// container's mount namespace only, whose SubPath is bound at Target.
type Mount struct {
	Source   string   `json:"source,omitempty"`
	Target   string   `json:"target"`
	ReadOnly bool     `json:"readOnly,omitempty"`
	Layers   []string `json:"layers,omitempty"`
	SubPath  string   `json:"subPath,omitempty"`
}
