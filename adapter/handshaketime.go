package adapter

import "time"

// jsTime writes t as JavaScript's Date.prototype.toString does in Node:
// "Thu Dec 03 2026 06:30:00 GMT+0000 (Coordinated Universal Time)". The
// zone's long name comes from zoneNames; a zone not listed there is
// named by its abbreviation.
func jsTime(t time.Time) string {
	abbr, off := t.Zone()
	b := make([]byte, 0, 64)
	b = t.AppendFormat(b, "Mon Jan 02 2006 15:04:05 GMT-0700 (")
	if name, ok := zoneNames[zoneKey{abbr, off}]; ok {
		b = append(b, name...)
	} else {
		b = append(b, abbr...)
	}
	return string(append(b, ')'))
}

// zoneKey is a zone abbreviation, as Go's time zone database has it, and
// its offset east of UTC in seconds.
type zoneKey struct {
	abbr   string
	offset int
}

// zoneNames are the long names Node (its ICU data, en-US) gives the
// zones of the time zone database with a lettered abbreviation; where
// zones sharing an abbreviation and offset have different names, the
// name most of them have.
var zoneNames = map[zoneKey]string{
	{"ACDT", 37800}:  "Australian Central Daylight Time",
	{"ACST", 34200}:  "Australian Central Standard Time",
	{"ADT", -10800}:  "Atlantic Daylight Time",
	{"AEDT", 39600}:  "Australian Eastern Daylight Time",
	{"AEST", 36000}:  "Australian Eastern Standard Time",
	{"AKDT", -28800}: "Alaska Daylight Time",
	{"AKST", -32400}: "Alaska Standard Time",
	{"AST", -14400}:  "Atlantic Standard Time",
	{"AWST", 28800}:  "Australian Western Standard Time",
	{"BST", 3600}:    "British Summer Time",
	{"CAT", 7200}:    "Central Africa Time",
	{"CDT", -18000}:  "Central Daylight Time",
	{"CDT", -14400}:  "Cuba Daylight Time",
	{"CEST", 7200}:   "Central European Summer Time",
	{"CET", 3600}:    "Central European Standard Time",
	{"CST", -21600}:  "Central Standard Time",
	{"CST", -18000}:  "Cuba Standard Time",
	{"CST", 28800}:   "China Standard Time",
	{"ChST", 36000}:  "Chamorro Standard Time",
	{"EAT", 10800}:   "East Africa Time",
	{"EDT", -14400}:  "Eastern Daylight Time",
	{"EEST", 10800}:  "Eastern European Summer Time",
	{"EET", 7200}:    "Eastern European Standard Time",
	{"EST", -18000}:  "Eastern Standard Time",
	{"GMT", 0}:       "Greenwich Mean Time",
	{"HDT", -32400}:  "Hawaii-Aleutian Daylight Time",
	{"HKT", 28800}:   "Hong Kong Standard Time",
	{"HST", -36000}:  "Hawaii-Aleutian Standard Time",
	{"IDT", 10800}:   "Israel Daylight Time",
	{"IST", 3600}:    "Irish Standard Time",
	{"IST", 7200}:    "Israel Standard Time",
	{"IST", 19800}:   "India Standard Time",
	{"JST", 32400}:   "Japan Standard Time",
	{"KST", 32400}:   "Korean Standard Time",
	{"MDT", -21600}:  "Mountain Daylight Time",
	{"MSK", 10800}:   "Moscow Standard Time",
	{"MST", -25200}:  "Mountain Standard Time",
	{"NDT", -9000}:   "Newfoundland Daylight Time",
	{"NST", -12600}:  "Newfoundland Standard Time",
	{"NZDT", 46800}:  "New Zealand Daylight Time",
	{"NZST", 43200}:  "New Zealand Standard Time",
	{"PDT", -25200}:  "Pacific Daylight Time",
	{"PKT", 18000}:   "Pakistan Standard Time",
	{"PST", -28800}:  "Pacific Standard Time",
	{"PST", 28800}:   "Philippine Standard Time",
	{"SAST", 7200}:   "South Africa Standard Time",
	{"SST", -39600}:  "American Samoa Standard Time",
	{"UTC", 0}:       "Coordinated Universal Time",
	{"WAT", 3600}:    "West Africa Time",
	{"WEST", 3600}:   "Western European Summer Time",
	{"WET", 0}:       "Western European Standard Time",
	{"WIB", 25200}:   "Western Indonesia Time",
	{"WIT", 32400}:   "Eastern Indonesia Time",
	{"WITA", 28800}:  "Central Indonesia Time",
}
