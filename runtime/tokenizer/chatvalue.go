package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/symbc/symbc/third_party/jinja"
)

// toJinja converts a template variable. Plain values convert directly;
// JSON text (json.RawMessage) and any other Go value (structs, typed
// slices and maps, marshaled first) are decoded keeping the order of
// object keys, since templates that print tools with tojson show them in
// that order, as Python dicts do.
func toJinja(v any) (jinja.Value, error) {
	switch x := v.(type) {
	case jinja.Value:
		return x, nil
	case nil, bool, int, int64, float64, string, json.Number:
		return jinja.FromGoValue(x), nil
	case json.RawMessage:
		return decodeOrdered(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return jinja.Value{}, err
	}
	return decodeOrdered(b)
}

func decodeOrdered(b []byte) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return jinja.Value{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jinja.Value{}, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return jinja.Value{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			var items []jinja.Value
			for dec.More() {
				item, err := decodeValue(dec)
				if err != nil {
					return jinja.Value{}, err
				}
				items = append(items, item)
			}
			if _, err := dec.Token(); err != nil {
				return jinja.Value{}, err
			}
			return jinja.NewList(items), nil
		case '{':
			d := jinja.NewDict()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return jinja.Value{}, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Value{}, err
				}
				d.AsDict().Set(k.(string), v)
			}
			if _, err := dec.Token(); err != nil {
				return jinja.Value{}, err
			}
			return d, nil
		}
		return jinja.Value{}, fmt.Errorf("unexpected %v", t)
	default:
		return jinja.FromGoValue(t), nil
	}
}
