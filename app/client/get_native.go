//go:build !js

package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// NetHTTPGet is a Config.Get over net/http, for native programs and tests.
// (Not in the browser build: net/http's client adds 850 KB to app.wasm.)
func NetHTTPGet(ctx context.Context, url, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		var p struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &p) == nil && p.Error != "" {
			msg = p.Error
		}
		return nil, &HTTPError{Status: res.StatusCode, Message: msg}
	}
	return b, nil
}
