package config

import (
	"slices"
	"strings"
)

// VMSize is what an Azure VM size gives a node.
type VMSize struct {
	VCPUs     int
	MemoryMiB int
}

// VMSizes are the VM sizes minaks knows, the common AKS node sizes.
var VMSizes = map[string]VMSize{
	"Standard_B2s":     {2, 4096},
	"Standard_B2ms":    {2, 8192},
	"Standard_B4ms":    {4, 16384},
	"Standard_DS2_v2":  {2, 7168},
	"Standard_DS3_v2":  {4, 14336},
	"Standard_DS4_v2":  {8, 28672},
	"Standard_D2s_v3":  {2, 8192},
	"Standard_D4s_v3":  {4, 16384},
	"Standard_D8s_v3":  {8, 32768},
	"Standard_D2s_v5":  {2, 8192},
	"Standard_D4s_v5":  {4, 16384},
	"Standard_D8s_v5":  {8, 32768},
	"Standard_D16s_v5": {16, 65536},
	"Standard_D2ds_v5": {2, 8192},
	"Standard_D4ds_v5": {4, 16384},
	"Standard_E2s_v5":  {2, 16384},
	"Standard_E4s_v5":  {4, 32768},
	"Standard_F2s_v2":  {2, 4096},
	"Standard_F4s_v2":  {4, 8192},
}

func vmSizeNames() string {
	names := make([]string, 0, len(VMSizes))
	for n := range VMSizes {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
