package transport

import "sync"

// syncBufferPool adapts sync.Pool to gorilla's BufferPool.
type syncBufferPool struct{ p sync.Pool }

func (b *syncBufferPool) Get() any  { return b.p.Get() }
func (b *syncBufferPool) Put(v any) { b.p.Put(v) }
