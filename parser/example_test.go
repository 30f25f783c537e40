package parser_test

import (
	"fmt"

	"github.com/duplexio/duplex/parser"
)

func ExampleJSONParser_Encode() {
	var jp parser.JSONParser
	msgs, err := jp.Encode(&parser.SocketPacket{
		Type:      parser.SocketPacketEvent,
		Namespace: "/chat",
		ID:        1,
		HasID:     true,
		Data:      []any{"upload", "a.png", []byte{0x89, 'P', 'N', 'G'}},
	})
	if err != nil {
		panic(err)
	}
	for _, m := range msgs {
		fmt.Printf("binary=%v %q\n", m.Binary, m.Data)
	}
	// Output:
	// binary=false "51-/chat,1[\"upload\",\"a.png\",{\"_placeholder\":true,\"num\":0}]"
	// binary=true "\x89PNG"
}

func ExampleJSONParser_NewDecoder() {
	var jp parser.JSONParser
	d := jp.NewDecoder() // one per connection
	for _, m := range []parser.Message{
		{Data: []byte(`51-/chat,1["upload","a.png",{"_placeholder":true,"num":0}]`)},
		{Data: []byte("\x89PNG"), Binary: true},
	} {
		p, err := d.Add(m.Data, m.Binary)
		if err != nil {
			panic(err)
		}
		if p == nil {
			continue // waiting for attachments
		}
		var name string
		var body []byte
		_ = p.Args[0].Decode(&name)
		_ = p.Args[1].Decode(&body)
		fmt.Println(p.Type, p.Namespace, p.ID, p.Event, name, body)
	}
	// Output:
	// EVENT /chat 1 upload a.png [137 80 78 71]
}

func ExampleDecodePayload() {
	body := []byte("4hello\x1ebAQID\x1e2")
	_ = parser.DecodePayload(body, func(p parser.Packet) error {
		fmt.Println(p.Type, p.Binary, p.Data)
		return nil
	})
	// Output:
	// message false [104 101 108 108 111]
	// message true [1 2 3]
	// ping false []
}

func ExampleAppendPayloadV3() {
	packets := []parser.Packet{
		{Type: parser.PacketMessage, Data: []byte("😀")},
		{Type: parser.PacketMessage, Data: []byte("é")},
	}
	body, isBinary := parser.AppendPayloadV3(nil, packets, false)
	fmt.Printf("%s %v\n", body, isBinary)
	// Output:
	// 3:4😀2:4é false
}

func ExampleNormalize() {
	type upload struct {
		Name string `json:"name"`
		Body []byte `json:"body"`
		Size int    `json:"size,omitempty"`
	}
	tree, err := parser.Normalize([]any{"upload", upload{Name: "a.png", Body: []byte{0x89}}, 2.0, 2.5})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%#v\n", tree)
	// Output:
	// []interface {}{"upload", map[string]interface {}{"body":[]uint8{0x89}, "name":"a.png"}, 2, 2.5}
}
