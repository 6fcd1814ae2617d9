package local

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/pipeline"
)

// InternetPolicy says which users' models may have the network
// (`internet_access=True`) and how they reach it.
//
// Embedded (the zero value: one user's own code) every model that asks
// has the host's network. A server sets Users and Egress: the network is
// then the sandbox's egress proxy, which reaches the internet but never
// loopback, the server's own addresses, link-local addresses (cloud
// metadata) or, unless PrivateOK, private networks.
type InternetPolicy struct {
	// Users who may use it: "*" everyone, "admins" the admins, or names.
	// Empty with Egress set: nobody.
	Users []string
	// Egress sends the traffic through the policy proxy.
	Egress bool
	// PrivateOK lets the proxy reach private network addresses.
	PrivateOK bool
}

// check refuses a run of project by user if one of its models asks for
// the network the policy does not give user.
func (p InternetPolicy) check(ctx context.Context, users tarn.UserService, project *pipeline.Project, user string) error {
	if !p.Egress {
		return nil
	}
	var asking []string
	for _, m := range append(append([]*pipeline.Model{}, project.Models...), project.Expectations...) {
		if m.InternetAccess {
			asking = append(asking, fmt.Sprintf("%s (%s:%d)", m.Name, m.File, m.Line))
		}
	}
	if len(asking) == 0 || p.allows(ctx, users, user) {
		return nil
	}
	who := "nobody"
	switch {
	case slices.Contains(p.Users, "admins"):
		who = "admins only"
	case len(p.Users) > 0:
		who = "only " + strings.Join(p.Users, ", ")
	}
	return tarn.Errorf(tarn.EFORBIDDEN, "model(s) %s ask for internet access (internet_access=True), which this server gives %s: drop it, or ask the operator (tarn serve --internet-access)", strings.Join(asking, ", "), who)
}

func (p InternetPolicy) allows(ctx context.Context, users tarn.UserService, user string) bool {
	for _, u := range p.Users {
		switch u {
		case "*", user:
			return true
		case "admins":
			if list, err := users.ListUsers(ctx); err == nil {
				for _, x := range list {
					if x.Name == user && x.Admin {
						return true
					}
				}
			}
		}
	}
	return false
}
