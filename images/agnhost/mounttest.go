package agnhost

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const mounttestContent = "mount-tester new file\n"

// mounttestMain runs the checks its flags ask for, in upstream's fixed order: fs type, new
// files, mode, perms, owner, content, content in a loop.
func mounttestMain(args []string) int {
	fs := newFlags("mounttest")
	fsTypePath := fs.String("fs_type", "", "Path to print the fs type for")
	fileModePath := fs.String("file_mode", "", "Path to print the mode bits of")
	filePermPath := fs.String("file_perm", "", "Path to print the perms of")
	fileOwnerPath := fs.String("file_owner", "", "Path to print the owning UID and GID of")
	new0644 := fs.String("new_file_0644", "", "Path to write to and read from with perm 0644")
	new0666 := fs.String("new_file_0666", "", "Path to write to and read from with perm 0666")
	new0660 := fs.String("new_file_0660", "", "Path to write to and read from with perm 0660")
	new0777 := fs.String("new_file_0777", "", "Path to write to and read from with perm 0777")
	contentPath := fs.String("file_content", "", "Path to read the file content from")
	loopPath := fs.String("file_content_in_loop", "", "Path to read the file content in loop from")
	retry := fs.Int("retry_time", 180, "Retry time during the loop")
	breakOnExpected := fs.Bool("break_on_expected_content", true, "Break out of loop on expected content, (use with --file_content_in_loop flag only)")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if !maxArgs("mounttest", pos, 0) {
		return 1
	}
	syscall.Umask(0)
	failed := false
	check := func(err error) { failed = failed || err != nil }
	check(fsType(*fsTypePath))
	check(readWriteNewFile(*new0644, 0o644))
	check(readWriteNewFile(*new0666, 0o666))
	check(readWriteNewFile(*new0660, 0o660))
	check(readWriteNewFile(*new0777, 0o777))
	check(fileMode(*fileModePath))
	check(filePerm(*filePermPath))
	check(fileOwner(*fileOwnerPath))
	check(readFileContent(*contentPath))
	if *loopPath != "" {
		check(readFileContentInLoop(*loopPath, *retry, *breakOnExpected))
	}
	if failed {
		return 1
	}
	return 0
}

func fsType(path string) error {
	if path == "" {
		return nil
	}
	var buf unix.Statfs_t
	if err := unix.Statfs(path, &buf); err != nil {
		fmt.Printf("error from statfs(%q): %v\n", path, err)
		return err
	}
	name := strconv.FormatInt(int64(buf.Type), 10)
	if buf.Type == unix.TMPFS_MAGIC {
		name = "tmpfs"
	}
	fmt.Printf("mount type of %q: %s\n", path, name)
	return nil
}

func fileMode(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		fmt.Printf("error from Stat(%q): %v\n", path, err)
		return err
	}
	fmt.Printf("mode of file %q: %v\n", path, fi.Mode())
	return nil
}

func filePerm(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		fmt.Printf("error from Stat(%q): %v\n", path, err)
		return err
	}
	fmt.Printf("perms of file %q: %v\n", path, fi.Mode().Perm())
	return nil
}

func fileOwner(path string) error {
	if path == "" {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		fmt.Printf("error from stat(%q): %v\n", path, err)
		return err
	}
	fmt.Printf("owner UID of %q: %v\n", path, st.Uid)
	fmt.Printf("owner GID of %q: %v\n", path, st.Gid)
	return nil
}

func readFileContent(path string) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Printf("error reading file content for %q: %v\n", path, err)
		return err
	}
	fmt.Printf("content of file %q: %v\n", path, string(data))
	return nil
}

func readWriteNewFile(path string, perm os.FileMode) error {
	if path == "" {
		return nil
	}
	if err := os.WriteFile(path, []byte(mounttestContent), perm); err != nil {
		fmt.Printf("error writing new file %q: %v\n", path, err)
		return err
	}
	return readFileContent(path)
}

func readFileContentInLoop(path string, retrySeconds int, breakOnExpected bool) error {
	var err error
	retry := time.Duration(retrySeconds) * time.Second
	for start := time.Now(); time.Since(start) < retry; time.Sleep(2 * time.Second) {
		var data []byte
		if data, err = os.ReadFile(path); err != nil {
			fmt.Printf("Error reading file %s: %v, retrying\n", path, err)
			continue
		}
		fmt.Printf("content of file %q: %v\n", path, string(data))
		if breakOnExpected {
			if string(data) != mounttestContent {
				fmt.Printf("Unexpected content. Expected: %s. Retrying\n", mounttestContent)
				continue
			}
			break
		}
	}
	return err
}
