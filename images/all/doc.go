// Package all registers every built-in image: import it for its side effect.
package all

import (
	_ "github.com/minaks/minaks/images/agnhost"
	_ "github.com/minaks/minaks/images/boomserver"
	_ "github.com/minaks/minaks/images/helloworld"
	_ "github.com/minaks/minaks/images/httpecho"
	_ "github.com/minaks/minaks/images/nginx"
	_ "github.com/minaks/minaks/images/nonewprivs"
	_ "github.com/minaks/minaks/images/pause"
	_ "github.com/minaks/minaks/images/shell"
	_ "github.com/minaks/minaks/images/tools"
	_ "github.com/minaks/minaks/images/whoami"
)
