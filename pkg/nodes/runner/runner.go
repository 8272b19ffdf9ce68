package runner

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/minaks/minaks/images"
	_ "github.com/minaks/minaks/images/all" // every built-in image
	"github.com/minaks/minaks/pkg/nodes/container"
)

// Run becomes what argv[0] names, a container's init or a built-in image's program, or with
// argv[1] container.ExecName the helper of a command run in a container, and then exits; for
// any other name it returns.
func Run() {
	if os.Geteuid() != os.Getuid() || os.Getegid() != os.Getgid() {
		// A set-user-ID copy (package container's SetUIDBinary) runs the program of the image
		// whose real file is one, and nothing else: not the init, not the exec helper, not
		// another image's program.
		if images.SetUIDProgram(os.Args[0]) {
			code, _ := images.Main(os.Args[0], os.Args[1:])
			os.Exit(code)
		}
		fmt.Fprintf(os.Stderr, "minaks: %q may not run set-user-ID\n", os.Args[0])
		os.Exit(126)
	}
	if filepath.Base(os.Args[0]) == container.InitName {
		err := container.Init()
		fmt.Fprintf(os.Stderr, "minaks: cannot start the container: %v\n", err)
		os.Exit(128)
	}
	if len(os.Args) == 3 && os.Args[1] == container.ExecName {
		err := container.ExecMain(os.Args[2])
		fmt.Fprintf(os.Stderr, "minaks: cannot exec in the container: %v\n", err)
		os.Exit(126)
	}
	if code, ok := images.Main(os.Args[0], os.Args[1:]); ok {
		os.Exit(code)
	}
}
