package meter

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/meter/format"
	"github.com/gridledger/gridledger/internal/reading"
)

// meterState is the gateway's memory of one meter.
type meterState struct {
	// last is the last reading accepted (nil before the first): the
	// replay, time and register checks compare with it.
	last *reading.Registers
	// open holds, per interval start, the last reading accepted in that
	// interval until it is on the ledger.
	open map[int64]*intervalRec

	// Fine data file of the interval being written.
	file      *os.File
	fileStart int64

	// For meters the gateway reads: the device's format (for relay
	// commands), per-channel registers (see mergeNative), the last
	// sequence number the gateway signed, and per topic the tolerated
	// fields last logged (see logNotes).
	format format.Format
	chans  map[string][2]int64
	gwSeq  uint64
	notes  map[string]string
}

// intervalRec is a meter's last accepted reading of one interval.
type intervalRec struct {
	last reading.Signed
	// dirty: accepted since the last submission of this interval.
	dirty bool
}

func (st *meterState) closeFile() {
	if st.file != nil {
		st.file.Close()
		st.file = nil
	}
}

// state returns the gateway's memory of a meter, building it on first use
// from what the ledger last accepted and what the store holds, so that a
// restarted gateway neither accepts a replay nor reuses a sequence number.
func (g *Gateway) state(sh *shard, m contract.Meter) *meterState {
	if st := sh.meters[m.ID]; st != nil {
		return st
	}
	st := &meterState{open: map[int64]*intervalRec{}}
	if m.Last != nil {
		l := *m.Last
		st.last = &l
	}
	if s, r, start, ok := g.lastStored(m.ID); ok && (st.last == nil || r.Seq > st.last.Seq) {
		st.last = &r.Registers
		// The ledger has not seen the newest stored reading: its interval
		// is (re)submitted at the next flush after it ends.
		st.open[start] = &intervalRec{last: s, dirty: true}
	}
	if st.last != nil {
		st.gwSeq = st.last.Seq
	}
	st.gwSeq = max(st.gwSeq, g.seqs.reserved(m.ID))
	sh.meters[m.ID] = st
	return st
}

// recover rebuilds, at start, the memory of every registered meter with
// fine data in the store, so that an interval stored but not on the
// ledger before a stop is submitted even if its meter stays silent.
func (g *Gateway) recover() {
	if g.cfg.StoreDir == "" {
		return
	}
	ents, err := os.ReadDir(g.cfg.StoreDir)
	if err != nil {
		return // nothing stored yet
	}
	snap := g.reg.view()
	for _, e := range ents {
		m, ok := snap.meters[e.Name()]
		if !ok || !e.IsDir() {
			continue
		}
		sh := g.shardOf(m.ID)
		sh.mu.Lock()
		g.state(sh, m)
		sh.mu.Unlock()
	}
}

func (g *Gateway) meterDir(id string) string { return filepath.Join(g.cfg.StoreDir, id) }

// EraseDeparted deletes the fine data the gateway keeps of every meter the
// ledger no longer has: a meter leaves the ledger only with its owner
// (contract.MsgOffboard), whose data must then go from every node and
// gateway (docs/privacy.md). It needs the registry as the ledger last
// gave it, never an empty one, and returns the meters it erased.
func (g *Gateway) EraseDeparted() []string {
	snap := g.reg.view()
	if g.cfg.StoreDir == "" || !snap.fromLedger {
		return nil
	}
	ents, err := os.ReadDir(g.cfg.StoreDir)
	if err != nil {
		return nil
	}
	var erased []string
	for _, e := range ents {
		id := e.Name()
		if _, known := snap.meters[id]; known || !e.IsDir() || strings.HasPrefix(id, ".") {
			continue
		}
		sh := g.shardOf(id)
		sh.mu.Lock()
		if st := sh.meters[id]; st != nil {
			st.closeFile()
			delete(sh.meters, id)
		}
		err := os.RemoveAll(g.meterDir(id))
		sh.mu.Unlock()
		if err != nil {
			g.log.Error("fine data of a departed meter not erased", "meter", id, "err", err)
			continue
		}
		g.seqs.forget(id)
		g.log.Info("erased the fine data of a meter no longer on the ledger", "meter", id)
		erased = append(erased, id)
	}
	return erased
}

func intervalFile(start int64) string { return strconv.FormatInt(start, 10) + ".jsonl" }

// store appends an accepted reading, one JSON line, to the meter's file of
// its interval. Files are private (0600): fine data is for the owner, the
// operator and the DSO only.
func (g *Gateway) store(st *meterState, id string, start int64, s reading.Signed) error {
	if g.cfg.StoreDir == "" {
		return nil
	}
	if st.file == nil || st.fileStart != start {
		st.closeFile()
		dir := g.meterDir(id)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(dir, intervalFile(start)), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		st.file, st.fileStart = f, start
	}
	_, err := st.file.Write(append(s.Marshal(), '\n'))
	return err
}

// fineHash is SHA-256 of a meter's interval file, nil without a store.
func (g *Gateway) fineHash(id string, start int64) ([]byte, error) {
	if g.cfg.StoreDir == "" {
		return nil, nil
	}
	f, err := os.Open(filepath.Join(g.meterDir(id), intervalFile(start)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// lastStored is the last reading in a meter's newest interval file.
func (g *Gateway) lastStored(id string) (reading.Signed, reading.Reading, int64, bool) {
	var s reading.Signed
	var r reading.Reading
	if g.cfg.StoreDir == "" {
		return s, r, 0, false
	}
	ents, err := os.ReadDir(g.meterDir(id))
	if err != nil {
		return s, r, 0, false
	}
	newest, found := int64(0), false
	for _, e := range ents {
		v, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".jsonl"), 10, 64)
		if err == nil && strings.HasSuffix(e.Name(), ".jsonl") && (!found || v > newest) {
			newest, found = v, true
		}
	}
	if !found {
		return s, r, 0, false
	}
	b, err := os.ReadFile(filepath.Join(g.meterDir(id), intervalFile(newest)))
	if err != nil {
		return s, r, 0, false
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	// A crash can leave a torn last line: take the last one that parses.
	for i := len(lines) - 1; i >= 0; i-- {
		if s, r, err = reading.Decode(lines[i]); err == nil {
			return s, r, newest, true
		}
	}
	return s, r, 0, false
}

// seqStore persists the sequence numbers the gateway signs with, reserved
// in blocks so the file is written once per seqBlock readings of a meter,
// not on every reading. After a restart the gateway continues above the
// reservation: numbers may be skipped, never reused.
type seqStore struct {
	path string
	mu   sync.Mutex
	m    map[string]uint64 // meter → highest reserved seq
}

const seqBlock = 1000

func newSeqStore(dir string) *seqStore {
	s := &seqStore{m: map[string]uint64{}}
	if dir != "" {
		// Meter ids start with a letter or digit, so no meter's directory
		// is called this.
		s.path = filepath.Join(dir, ".gateway-seq.json")
	}
	return s
}

func (s *seqStore) load() error {
	if s.path == "" {
		return nil
	}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := json.Unmarshal(b, &s.m); err != nil {
		return fmt.Errorf("meter: %s: %w", s.path, err)
	}
	return nil
}

func (s *seqStore) reserved(id string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

// next returns the sequence number after last for meter id, first
// reserving (and persisting) a new block when it runs past the last one.
func (s *seqStore) next(id string, last uint64) (uint64, error) {
	n := last + 1
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= s.m[id] {
		return n, nil
	}
	s.m[id] = n + seqBlock
	if s.path == "" {
		return n, nil
	}
	return n, s.save()
}

// forget drops a meter's reservation (its owner left the ledger).
func (s *seqStore) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[id]; !ok {
		return
	}
	delete(s.m, id)
	if s.path != "" {
		_ = s.save() // a stale reservation only skips sequence numbers
	}
}

func (s *seqStore) save() error {
	b, err := json.Marshal(s.m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	// Write, sync, rename: a crash leaves the old reservation or the new,
	// never a torn file.
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}
