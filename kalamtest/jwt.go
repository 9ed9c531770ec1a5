package kalamtest

import (
	"errors"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/kalamgo/kalam/kalamtest/internal/store"
)

// JWT constants of PROTOCOL.md §3.
const (
	tokenIssuer      = "kalamdb"
	tokenTypeAccess  = "access"
	tokenTypeRefresh = "refresh"
	maxIatSkew       = 60 * time.Second
)

// tokenClaims are exactly the claims KalamDB issues (§3.1).
type tokenClaims struct {
	Sub       string           `json:"sub"`
	Iss       string           `json:"iss"`
	Exp       *jwt.NumericDate `json:"exp"`
	Iat       *jwt.NumericDate `json:"iat"`
	Nbf       *jwt.NumericDate `json:"nbf,omitempty"`
	Email     *string          `json:"email"`
	Role      string           `json:"role"`
	TokenType string           `json:"token_type"`
}

func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp, nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat, nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf, nil }
func (c *tokenClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *tokenClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// tokenFault classifies a rejected token. Its text is a reason for logs and
// never holds any part of the token.
type tokenFault struct {
	kind   faultKind
	reason string
}

type faultKind uint8

const (
	faultInvalid   faultKind = iota // INVALID_CREDENTIALS
	faultExpired                    // TOKEN_EXPIRED
	faultWrongType                  // access where refresh is needed, or back
	faultNoUser                     // sub names no (live) user
	faultRole                       // role claim differs from the user's role
)

func (e *tokenFault) Error() string { return "kalamtest: token rejected: " + e.reason }

func invalidToken(reason string) error { return &tokenFault{kind: faultInvalid, reason: reason} }

func expiredToken(reason string) error { return &tokenFault{kind: faultExpired, reason: reason} }

// faultOf returns the kind of a token error (faultInvalid for other errors).
func faultOf(err error) faultKind {
	var tf *tokenFault
	if errors.As(err, &tf) {
		return tf.kind
	}
	return faultInvalid
}

// reasonOf returns a loggable reason for a token error.
func reasonOf(err error) string {
	var tf *tokenFault
	if errors.As(err, &tf) {
		return tf.reason
	}
	return "invalid"
}

// tokens mints and checks JWTs. Revocation is expressed as cut-off times on
// iat, so tokens stay stateless: a token is refused when its iat is at or
// before a cut, and tokens minted after a cut get an iat above it (at most
// one second in the future, well inside the 60 s allowance of §3.2).
type tokens struct {
	secret []byte
	now    func() time.Time
	leeway time.Duration
	parser *jwt.Parser

	mu         sync.Mutex
	accessTTL  time.Duration
	refreshTTL time.Duration
	maxIat     int64            // highest iat minted so far
	cutAll     int64            // iat ≤ cutAll: expired (every kind)
	cutAccess  int64            // iat ≤ cutAccess: access tokens expired
	revoked    map[string]int64 // per user: iat ≤ cut is invalid
}

func newTokens(cfg Config) *tokens {
	return &tokens{
		secret:     []byte(cfg.JWTSecret),
		now:        cfg.Now,
		leeway:     cfg.Leeway,
		accessTTL:  cfg.AccessTokenTTL,
		refreshTTL: cfg.RefreshTokenTTL,
		revoked:    make(map[string]int64),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"HS256", "HS384", "HS512"}),
			jwt.WithoutClaimsValidation(), // done by hand: expiry must be told apart
		),
	}
}

// issued is a freshly minted pair with the instants reported in the JSON.
type issued struct {
	access, refresh       string
	accessExp, refreshExp time.Time
}

// mint signs an access and a refresh token for u.
func (t *tokens) mint(u store.UserInfo) (issued, error) {
	now := t.now()
	t.mu.Lock()
	iat := now.Unix()
	floor := max(t.cutAll, t.cutAccess, t.revoked[u.ID])
	if iat <= floor {
		iat = floor + 1
	}
	t.maxIat = max(t.maxIat, iat)
	access, refresh := t.accessTTL, t.refreshTTL
	t.mu.Unlock()

	sign := func(typ string, ttl time.Duration) (string, error) {
		c := &tokenClaims{
			Sub:       u.ID,
			Iss:       tokenIssuer,
			Iat:       jwt.NewNumericDate(time.Unix(iat, 0)),
			Exp:       jwt.NewNumericDate(time.Unix(iat+int64((ttl+time.Second-1)/time.Second), 0)),
			Email:     u.Email,
			Role:      u.Role,
			TokenType: typ,
		}
		return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	}
	var out issued
	var err error
	if out.access, err = sign(tokenTypeAccess, access); err != nil {
		return issued{}, err
	}
	if out.refresh, err = sign(tokenTypeRefresh, refresh); err != nil {
		return issued{}, err
	}
	out.accessExp, out.refreshExp = now.Add(access), now.Add(refresh)
	return out, nil
}

// parse checks signature, issuer, algorithm and the time claims (§3.2 steps
// 1–3) and returns the claims. It does not look at token_type or the user.
func (t *tokens) parse(raw string) (*tokenClaims, error) {
	var c tokenClaims
	_, err := t.parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) {
		if c.Iss != tokenIssuer {
			return nil, errors.New("untrusted issuer")
		}
		return t.secret, nil
	})
	if err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenMalformed):
			return nil, invalidToken("malformed")
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return nil, invalidToken("bad signature or algorithm")
		case errors.Is(err, jwt.ErrTokenUnverifiable):
			return nil, invalidToken("untrusted issuer")
		default:
			return nil, invalidToken("unparsable")
		}
	}
	now := t.now()
	if c.Exp == nil {
		return nil, invalidToken("missing exp")
	}
	if now.After(c.Exp.Add(t.leeway)) {
		return nil, expiredToken("expired")
	}
	if c.Nbf != nil && now.Add(t.leeway).Before(c.Nbf.Time) {
		return nil, invalidToken("not valid yet")
	}
	if c.Iat != nil && c.Iat.After(now.Add(maxIatSkew)) {
		return nil, invalidToken("issued in the future")
	}
	if c.Sub == "" {
		return nil, invalidToken("missing sub")
	}
	var iat int64
	if c.Iat != nil {
		iat = c.Iat.Unix()
	}
	t.mu.Lock()
	cutAll, cutAccess, cutUser := t.cutAll, t.cutAccess, t.revoked[c.Sub]
	t.mu.Unlock()
	switch {
	case iat <= cutAll:
		return nil, expiredToken("expired by ExpireAllTokens")
	case c.TokenType == tokenTypeAccess && iat <= cutAccess:
		return nil, expiredToken("expired by ExpireAccessTokens")
	case iat <= cutUser:
		return nil, invalidToken("revoked by RevokeUser")
	}
	return &c, nil
}

// cut returns the iat cut-off for "every token issued before now": the
// current second, or the highest iat minted so far if that is later.
func (t *tokens) cutLocked() int64 { return max(t.now().Unix(), t.maxIat) }

func (t *tokens) expireAll() {
	t.mu.Lock()
	t.cutAll = t.cutLocked()
	t.mu.Unlock()
}

func (t *tokens) expireAccess() {
	t.mu.Lock()
	t.cutAccess = t.cutLocked()
	t.mu.Unlock()
}

func (t *tokens) revoke(user string) {
	t.mu.Lock()
	t.revoked[user] = t.cutLocked()
	t.mu.Unlock()
}

func (t *tokens) setTTL(access, refresh time.Duration) {
	access, refresh = ttls(access, refresh)
	t.mu.Lock()
	t.accessTTL, t.refreshTTL = access, refresh
	t.mu.Unlock()
}
