package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// k8sObject is the part of a Kubernetes manifest the deployment docs rely on.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		BackoffLimit *int        `yaml:"backoffLimit"`
		Template     podTemplate `yaml:"template"`
		Ports        []struct {  // of a Service
			Port       int `yaml:"port"`
			TargetPort int `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type podTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		RestartPolicy  string         `yaml:"restartPolicy"`
		InitContainers []k8sContainer `yaml:"initContainers"`
		Containers     []k8sContainer `yaml:"containers"`
		Volumes        []struct {
			Name string `yaml:"name"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		ContainerPort int `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port int    `yaml:"port"`
		} `yaml:"httpGet"`
	} `yaml:"readinessProbe"`
	VolumeMounts []struct {
		Name string `yaml:"name"`
	} `yaml:"volumeMounts"`
}

// TestDeployManifests parses every manifest of docs/deploy and checks what
// a cluster would otherwise reject or silently get wrong: required fields,
// selectors that match their pods, probes on /health at the served port,
// mounts of declared volumes, and container arguments that this symbc
// accepts (command and flags, parsed by the real command tree).
func TestDeployManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "deploy", "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("manifests: %v %v", files, err)
	}
	kinds := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var deployLabels []map[string]string
		var services []map[string]string
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for i := 0; ; i++ {
			var raw map[string]any
			if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			out, _ := yaml.Marshal(raw)
			var o k8sObject
			if err := yaml.Unmarshal(out, &o); err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			where := filepath.Base(f) + ": " + o.Kind + " " + o.Metadata.Name
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: document %d lacks apiVersion, kind or metadata.name", f, i)
				continue
			}
			kinds[o.Kind]++
			switch o.Kind {
			case "Deployment":
				if o.APIVersion != "apps/v1" || o.Spec.Replicas == nil || *o.Spec.Replicas < 2 {
					t.Errorf("%s: want apps/v1 and at least 2 replicas", where)
				}
				sel := o.Spec.Selector.MatchLabels
				if len(sel) == 0 || !subset(sel, o.Spec.Template.Metadata.Labels) {
					t.Errorf("%s: selector %v does not select the pod labels %v", where, sel, o.Spec.Template.Metadata.Labels)
				}
				deployLabels = append(deployLabels, o.Spec.Template.Metadata.Labels)
				checkPod(t, where, o.Spec.Template, true)
			case "Job":
				if o.APIVersion != "batch/v1" || o.Spec.BackoffLimit == nil {
					t.Errorf("%s: want batch/v1 with a backoffLimit", where)
				}
				if rp := o.Spec.Template.Spec.RestartPolicy; rp != "Never" && rp != "OnFailure" {
					t.Errorf("%s: restartPolicy %q", where, rp)
				}
				checkPod(t, where, o.Spec.Template, false)
			case "Service":
				var svc struct {
					Spec struct {
						Selector map[string]string `yaml:"selector"`
					} `yaml:"spec"`
				}
				yaml.Unmarshal(out, &svc)
				if len(svc.Spec.Selector) == 0 || len(o.Spec.Ports) == 0 || o.Spec.Ports[0].TargetPort != 8080 {
					t.Errorf("%s: want a selector and a port to 8080", where)
				}
				services = append(services, svc.Spec.Selector)
			default:
				t.Errorf("%s: unexpected kind", where)
			}
		}
		for _, sel := range services {
			found := false
			for _, l := range deployLabels {
				found = found || subset(sel, l)
			}
			if !found {
				t.Errorf("%s: Service selector %v matches no Deployment's pods", f, sel)
			}
		}
	}
	if kinds["Deployment"] == 0 || kinds["Service"] == 0 || kinds["Job"] == 0 {
		t.Errorf("kinds %v: want Deployments, Services and a Job", kinds)
	}
}

func checkPod(t *testing.T, where string, pod podTemplate, serving bool) {
	t.Helper()
	volumes := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = true
	}
	all := append(pod.Spec.InitContainers[:len(pod.Spec.InitContainers):len(pod.Spec.InitContainers)], pod.Spec.Containers...)
	if len(pod.Spec.Containers) == 0 {
		t.Errorf("%s: no containers", where)
	}
	for _, c := range all {
		if c.Name == "" || c.Image == "" || len(c.Args) == 0 {
			t.Errorf("%s: container %q lacks a name, image or args", where, c.Name)
			continue
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				t.Errorf("%s: container %s mounts undeclared volume %s", where, c.Name, m.Name)
			}
		}
		// The arguments must be a command line this symbc accepts.
		sub, rest, err := newRootCmd().Find(c.Args)
		if err != nil || sub.Name() != c.Args[0] {
			t.Errorf("%s: container %s: %q is not a symbc command: %v", where, c.Name, c.Args[0], err)
			continue
		}
		if err := sub.ParseFlags(rest); err != nil {
			t.Errorf("%s: container %s: %v", where, c.Name, err)
		} else if err := sub.ValidateArgs(sub.Flags().Args()); err != nil {
			t.Errorf("%s: container %s: %v", where, c.Name, err)
		}
	}
	if !serving {
		return
	}
	for _, c := range pod.Spec.Containers {
		if c.Args[0] != "serve" {
			continue
		}
		p := c.ReadinessProbe
		if p == nil || p.HTTPGet.Path != "/health" || len(c.Ports) == 0 || p.HTTPGet.Port != c.Ports[0].ContainerPort {
			t.Errorf("%s: serve needs a readiness probe on /health at its container port", where)
		}
		if !strings.Contains(strings.Join(c.Args, " "), "--addr 0.0.0.0:8080") {
			t.Errorf("%s: serve must listen on all interfaces at 8080 (the default is loopback only)", where)
		}
	}
}

func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
