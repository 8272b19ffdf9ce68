// Package helloworld is the built-in mcr.microsoft.com/azuredocs/aks-helloworld, the sample
// application of the AKS ingress tutorials: one page titled from $TITLE.
package helloworld
