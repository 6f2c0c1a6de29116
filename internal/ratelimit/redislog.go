package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// redisLog sends go-redis's own messages ("failed to dial after 1
// attempts", printed for every dial during an outage) to slog at debug
// level instead of plain text on stderr, which broke JSON logs. The
// Fallback already logs the outage once, with its consequence.
type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	slog.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

var quietRedis sync.Once

func routeRedisLogs() { quietRedis.Do(func() { redis.SetLogger(redisLog{}) }) }
