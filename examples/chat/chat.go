package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/duplexio/duplex/socketio"
)

// The chat's events. Every request the page sends with an acknowledgement
// is answered with the result or with {"error": "..."}.
//
//	client → server
//	  join(name, room?)     → roomState     join the chat, in room (default "general")
//	  room(name)            → roomState     move to another room
//	  message(text)         → sent          send a message to the room
//	  attachment(file)      → sent          send a small file (binary) to the room
//	  typing(bool)                          start or stop typing
//	server → client
//	  users(roomState)                      who is in the room now
//	  notice(notice)                        someone joined or left the room
//	  message(message)                      a message from someone else in the room
//	  attachment(file)                      a file from someone else in the room
//	  typing(typing)                        someone else in the room typing or not (volatile)
const (
	defaultRoom  = "general"
	maxNameRunes = 24
	maxTextRunes = 2000
	maxFileName  = 100
	maxFileBytes = 256 << 10
)

var roomPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,23}$`)

// roomState is who is in a room. Rev grows with every change of any
// room, so the page can ignore a list older than one it already has.
type roomState struct {
	Room  string   `json:"room"`
	Users []string `json:"users"`
	Rev   uint64   `json:"rev"`
}

// failure answers a request that was refused.
type failure struct {
	Error string `json:"error"`
}

// message is a chat message as the other users of the room get it.
type message struct {
	ID   uint64 `json:"id"`
	Room string `json:"room"`
	From string `json:"from"`
	Text string `json:"text"`
	TS   int64  `json:"ts"` // Unix milliseconds, the server's clock
}

// file is an attachment: sent by the page as {name, type, data} with data
// an ArrayBuffer, which travels as a binary attachment and decodes into
// []byte; relayed with the other fields set.
type file struct {
	ID   uint64 `json:"id,omitempty"`
	Room string `json:"room,omitempty"`
	From string `json:"from,omitempty"`
	Name string `json:"name"`
	Type string `json:"type"`
	Data []byte `json:"data"`
	TS   int64  `json:"ts,omitempty"`
}

// sent acknowledges a message or an attachment: the id and time the
// server gave it.
type sent struct {
	ID uint64 `json:"id"`
	TS int64  `json:"ts"`
}

// notice tells a room that someone joined or left.
type notice struct {
	Room string `json:"room"`
	Text string `json:"text"`
	TS   int64  `json:"ts"`
}

// typing tells a room that someone started or stopped typing.
type typing struct {
	Room   string `json:"room"`
	User   string `json:"user"`
	Typing bool   `json:"typing"`
}

// member is a user who joined: their nickname and current room.
type member struct {
	name string
	room string
}

// chat holds the users and wires the Socket.IO events.
type chat struct {
	io  *socketio.Server
	log *slog.Logger
	ids atomic.Uint64 // message and attachment ids

	mu      sync.Mutex
	members map[string]*member // by socket id
	names   map[string]string  // folded nickname → socket id
	rev     uint64
}

// newChat sets up the chat on io's main namespace.
func newChat(io *socketio.Server, log *slog.Logger) *chat {
	c := &chat{io: io, log: log, members: map[string]*member{}, names: map[string]string{}}
	io.OnConnection(c.onConnection)
	return c
}

// roomKey is the Socket.IO room of a chat room; the prefix keeps chat
// rooms apart from the rooms named after socket ids.
func roomKey(room string) string { return "room:" + room }

// onConnection installs the event handlers of a new socket. Handlers take
// the event's arguments decoded into their parameters' types; an Ack
// parameter answers the client's callback and is nil when it asked for
// none.
func (c *chat) onConnection(s *socketio.Socket) {
	c.log.Debug("connected", "sid", s.ID(), "transport", s.Conn().Transport().String())
	s.On("join", func(name, room string, ack socketio.Ack) {
		state, err := c.join(s, name, room)
		reply(ack, state, err)
	})
	s.On("room", func(room string, ack socketio.Ack) {
		state, err := c.switchRoom(s, room)
		reply(ack, state, err)
	})
	s.On("message", func(text string, ack socketio.Ack) {
		res, err := c.message(s, text)
		reply(ack, res, err)
	})
	s.On("attachment", func(f file, ack socketio.Ack) {
		res, err := c.attachment(s, f)
		reply(ack, res, err)
	})
	s.On("typing", func(on bool) {
		if m, ok := c.member(s.ID()); ok {
			_ = s.To(roomKey(m.room)).Volatile().Emit("typing", typing{Room: m.room, User: m.name, Typing: on})
		}
	})
	s.OnDisconnect(func(reason socketio.Reason) { c.leave(s, reason) })
}

// reply answers an acknowledgement, when the client asked for one.
func reply(ack socketio.Ack, result any, err error) {
	if ack == nil {
		return
	}
	if err != nil {
		_ = ack(failure{Error: err.Error()})
		return
	}
	_ = ack(result)
}

// join makes the socket a member under name, in room.
func (c *chat) join(s *socketio.Socket, name, room string) (roomState, error) {
	name, err := checkName(name)
	if err != nil {
		return roomState{}, err
	}
	if room == "" {
		room = defaultRoom
	}
	if room, err = checkRoom(room); err != nil {
		return roomState{}, err
	}
	c.mu.Lock()
	if m := c.members[s.ID()]; m != nil {
		c.mu.Unlock()
		return roomState{}, fmt.Errorf("you already joined as %s", m.name)
	}
	key := fold(name)
	if _, taken := c.names[key]; taken {
		c.mu.Unlock()
		return roomState{}, fmt.Errorf("the nickname %s is taken", name)
	}
	c.members[s.ID()] = &member{name: name, room: room}
	c.names[key] = s.ID()
	// The socket joins its room under the lock, so that any list computed
	// later, with a higher Rev, is sent to it too.
	s.Join(roomKey(room))
	state := c.stateLocked(room)
	c.mu.Unlock()

	c.log.Info("joined", "sid", s.ID(), "name", name, "room", room, "transport", s.Conn().Transport().String())
	c.announce(s, state, name+" joined")
	return state, nil
}

// switchRoom moves a member to another room.
func (c *chat) switchRoom(s *socketio.Socket, room string) (roomState, error) {
	room, err := checkRoom(room)
	if err != nil {
		return roomState{}, err
	}
	c.mu.Lock()
	m := c.members[s.ID()]
	if m == nil {
		c.mu.Unlock()
		return roomState{}, errJoinFirst
	}
	if m.room == room {
		state := c.stateLocked(room)
		c.mu.Unlock()
		return state, nil
	}
	old, name := m.room, m.name
	s.Leave(roomKey(old))
	s.Join(roomKey(room))
	m.room = room
	oldState := c.stateLocked(old)
	state := c.stateLocked(room)
	c.mu.Unlock()

	c.log.Info("switched room", "sid", s.ID(), "name", name, "from", old, "to", room)
	c.announce(s, oldState, name+" left")
	c.announce(s, state, name+" joined")
	return state, nil
}

// leave forgets a member whose socket disconnected.
func (c *chat) leave(s *socketio.Socket, reason socketio.Reason) {
	c.mu.Lock()
	m := c.members[s.ID()]
	if m == nil {
		c.mu.Unlock()
		return
	}
	delete(c.members, s.ID())
	delete(c.names, fold(m.name))
	state := c.stateLocked(m.room)
	c.mu.Unlock()

	c.log.Info("left", "sid", s.ID(), "name", m.name, "room", m.room, "reason", reason)
	c.announce(s, state, m.name+" left")
}

// announce sends a room's new user list to everyone in it, and a notice
// to everyone in it but s.
func (c *chat) announce(s *socketio.Socket, state roomState, text string) {
	key := roomKey(state.Room)
	_ = c.io.To(key).Emit("users", state)
	_ = s.To(key).Emit("notice", notice{Room: state.Room, Text: text, TS: time.Now().UnixMilli()})
}

// stateLocked lists the members of room under a new revision.
func (c *chat) stateLocked(room string) roomState {
	c.rev++
	users := []string{}
	for _, m := range c.members {
		if m.room == room {
			users = append(users, m.name)
		}
	}
	slices.SortFunc(users, func(a, b string) int { return cmp.Or(cmp.Compare(fold(a), fold(b)), cmp.Compare(a, b)) })
	return roomState{Room: room, Users: users, Rev: c.rev}
}

// member returns a copy of the socket's membership.
func (c *chat) member(sid string) (member, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.members[sid]; m != nil {
		return *m, true
	}
	return member{}, false
}

var errJoinFirst = errors.New("join the chat first")

// message sends a text message to the other members of the sender's room.
func (c *chat) message(s *socketio.Socket, text string) (sent, error) {
	m, ok := c.member(s.ID())
	if !ok {
		return sent{}, errJoinFirst
	}
	text = strings.TrimSpace(text)
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		return sent{}, errors.New("the message is empty")
	case n > maxTextRunes:
		return sent{}, fmt.Errorf("the message is too long (%d characters at most)", maxTextRunes)
	}
	msg := message{ID: c.ids.Add(1), Room: m.room, From: m.name, Text: text, TS: time.Now().UnixMilli()}
	// To(room) on the socket leaves the sender out: the page shows its own
	// message when this acknowledgement comes back.
	if err := s.To(roomKey(m.room)).Emit("message", msg); err != nil {
		return sent{}, err
	}
	return sent{ID: msg.ID, TS: msg.TS}, nil
}

// attachment sends a small file to the other members of the sender's
// room. Its bytes travel as binary attachments both ways.
func (c *chat) attachment(s *socketio.Socket, f file) (sent, error) {
	m, ok := c.member(s.ID())
	if !ok {
		return sent{}, errJoinFirst
	}
	switch {
	case len(f.Data) == 0:
		return sent{}, errors.New("the file is empty")
	case len(f.Data) > maxFileBytes:
		return sent{}, fmt.Errorf("the file is too large (%d KiB at most)", maxFileBytes>>10)
	}
	out := file{
		ID:   c.ids.Add(1),
		Room: m.room,
		From: m.name,
		Name: fileName(f.Name),
		Type: fileType(f.Type),
		Data: f.Data,
		TS:   time.Now().UnixMilli(),
	}
	if err := s.To(roomKey(m.room)).Emit("attachment", out); err != nil {
		return sent{}, err
	}
	c.log.Info("attachment", "sid", s.ID(), "name", m.name, "room", m.room, "file", out.Name, "type", out.Type, "bytes", len(out.Data))
	return sent{ID: out.ID, TS: out.TS}, nil
}

// checkName trims a nickname and checks it.
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", errors.New("choose a nickname")
	case n > maxNameRunes:
		return "", fmt.Errorf("the nickname is too long (%d characters at most)", maxNameRunes)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || r == utf8.RuneError {
			return "", errors.New("the nickname has characters that cannot be shown")
		}
	}
	return name, nil
}

// checkRoom normalizes a room name and checks it.
func checkRoom(room string) (string, error) {
	room = strings.ToLower(strings.TrimSpace(room))
	if !roomPattern.MatchString(room) {
		return "", errors.New("room names are 1 to 24 lowercase letters, digits, - or _")
	}
	return room, nil
}

// fold is the form of a nickname that must be unique.
func fold(name string) string { return strings.ToLower(name) }

// fileName keeps the last element of a file's name, printable and not
// too long.
func fileName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > maxFileName {
		name = string(r[:maxFileName])
	}
	if name == "" || name == "." || name == "/" {
		return "file"
	}
	return name
}

// fileType keeps a file's media type when it is well formed, without its
// parameters.
func fileType(t string) string {
	media, _, err := mime.ParseMediaType(t)
	if err != nil || !strings.Contains(media, "/") {
		return "application/octet-stream"
	}
	return media
}
