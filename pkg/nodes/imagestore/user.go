package imagestore

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// File reads the file at path (absolute, no symbolic links followed) as img's root filesystem
// has it: from the top-most layer that has it, unless a whiteout above hides it.
func (s *Store) File(img *Image, path string) ([]byte, error) {
	for _, dir := range s.LayerDirs(img) {
		p := filepath.Join(dir, filepath.Clean("/"+path))
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			break // a whiteout
		}
		return os.ReadFile(p)
	}
	return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
}

// User is the user a container of img runs as, as CRI runtimes resolve it: runAsUser and
// runAsGroup when given, else the image's USER ("name", "uid", "name:group", "uid:gid"),
// names and a user's primary group from the image's /etc/passwd and /etc/group, and the
// user's supplementary groups from /etc/group.
func (s *Store) User(img *Image, runAsUser, runAsGroup *int64) (uid, gid int64, groups []uint32, err error) {
	passwd, _ := s.File(img, "/etc/passwd")
	group, _ := s.File(img, "/etc/group")
	users, groupsOf := parseColonFile(passwd), parseColonFile(group)

	userPart, groupPart, hasGroup := strings.Cut(img.Config.User, ":")
	var name string
	switch {
	case runAsUser != nil:
		uid = *runAsUser
		if u := find(users, 2, strconv.FormatInt(uid, 10)); u != nil {
			name = u[0]
			gid, _ = strconv.ParseInt(u[3], 10, 64)
		}
	case userPart == "":
	default:
		if n, err := strconv.ParseInt(userPart, 10, 64); err == nil {
			uid = n
			if u := find(users, 2, userPart); u != nil {
				name = u[0]
				gid, _ = strconv.ParseInt(u[3], 10, 64)
			}
		} else {
			u := find(users, 0, userPart)
			if u == nil {
				return 0, 0, nil, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
			}
			name = u[0]
			uid, _ = strconv.ParseInt(u[2], 10, 64)
			gid, _ = strconv.ParseInt(u[3], 10, 64)
		}
	}
	if hasGroup && runAsUser == nil {
		if n, err := strconv.ParseInt(groupPart, 10, 64); err == nil {
			gid = n
		} else if g := find(groupsOf, 0, groupPart); g != nil {
			gid, _ = strconv.ParseInt(g[2], 10, 64)
		} else {
			return 0, 0, nil, fmt.Errorf("unable to find group %s: no matching entries in group file", groupPart)
		}
	}
	if runAsGroup != nil {
		gid = *runAsGroup
	}
	if name != "" {
		for _, g := range groupsOf {
			if len(g) < 4 {
				continue
			}
			for _, member := range strings.Split(g[3], ",") {
				if member == name {
					if n, err := strconv.ParseUint(g[2], 10, 32); err == nil && int64(n) != gid {
						groups = append(groups, uint32(n))
					}
				}
			}
		}
	}
	return uid, gid, groups, nil
}

// parseColonFile reads /etc/passwd or /etc/group: the fields of each line.
func parseColonFile(b []byte) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) >= 4 {
			out = append(out, f)
		}
	}
	return out
}

// find is the first entry whose field i is v.
func find(entries [][]string, i int, v string) []string {
	for _, e := range entries {
		if e[i] == v {
			return e
		}
	}
	return nil
}
