package store

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// EnvDir is the environment variable that overrides the store's location.
const EnvDir = "SYMBC_MODELS"

// DefaultDir is where the store lives: $SYMBC_MODELS when set, otherwise the
// platform's place for an application's data, as ollama and the Hugging
// Face cache choose theirs:
//
//	Linux and other Unix  $XDG_DATA_HOME/symbc/models, default ~/.local/share/symbc/models
//	macOS                 ~/Library/Application Support/symbc/models
//	Windows               %LOCALAPPDATA%\symbc\models
func DefaultDir() (string, error) {
	return defaultDir(runtime.GOOS, os.Getenv, os.UserHomeDir)
}

func defaultDir(goos string, getenv func(string) string, home func() (string, error)) (string, error) {
	if d := getenv(EnvDir); d != "" {
		return d, nil
	}
	join := func(base string, elem ...string) (string, error) {
		return filepath.Join(append([]string{base}, elem...)...), nil
	}
	switch goos {
	case "windows":
		if d := getenv("LOCALAPPDATA"); d != "" {
			return join(d, "symbc", "models")
		}
	case "darwin", "ios":
		if h, err := home(); err == nil && h != "" {
			return join(h, "Library", "Application Support", "symbc", "models")
		}
	default:
		if d := getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
			return join(d, "symbc", "models")
		}
		if h, err := home(); err == nil && h != "" {
			return join(h, ".local", "share", "symbc", "models")
		}
	}
	return "", errors.New("no folder for the model store: set " + EnvDir)
}
