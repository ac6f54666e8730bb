package chain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/gridledger/gridledger/internal/contract"
)

// State sync: every SnapshotInterval heights a validator writes its whole
// ledger state at that height to HOME/data/snapshots, and serves it in
// chunks through CometBFT's snapshot calls; a new node restores the
// newest one (checked chunk by chunk, then against the app hash the
// light client trusts) instead of replaying every block from genesis.
//
// Format 1, the stream the chunks are cut from: a JSON header line
// {"height","market_time","app_hash","entries"}, then each state entry as
// uvarint key length, key, uvarint value length, value, in key order.

// SnapshotFormat is the only snapshot format.
const SnapshotFormat = 1

// SnapshotChunkBytes is how big a chunk is (the last may be smaller).
var SnapshotChunkBytes = 4 << 20

type snapshotHeader struct {
	persistedMeta
	Entries int `json:"entries"`
}

// Snapshots keeps a node's snapshots on disk.
type Snapshots struct {
	Dir string
	// Interval is how many heights apart snapshots are taken (0: none);
	// KeepRecent how many are kept.
	Interval, KeepRecent int64
}

func (s *Snapshots) path(height int64, ext string) string {
	return filepath.Join(s.Dir, fmt.Sprintf("%020d%s", height, ext))
}

// take writes the snapshot of the state the db holds at meta.
func (s *Snapshots) take(db dbm.DB, meta persistedMeta) (*abci.Snapshot, error) {
	var body bytes.Buffer
	n := 0
	it, err := dbm.IteratePrefix(db, []byte(statePrefix))
	if err != nil {
		return nil, err
	}
	var lenBuf [binary.MaxVarintLen64]byte
	for ; it.Valid(); it.Next() {
		k, v := it.Key()[len(statePrefix):], it.Value()
		body.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(k)))])
		body.Write(k)
		body.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(v)))])
		body.Write(v)
		n++
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	head, _ := json.Marshal(snapshotHeader{persistedMeta: meta, Entries: n})
	stream := slices.Concat(head, []byte("\n"), body.Bytes())
	var hashes [][]byte
	for off := 0; off < len(stream); off += SnapshotChunkBytes {
		h := sha256.Sum256(stream[off:min(off+SnapshotChunkBytes, len(stream))])
		hashes = append(hashes, h[:])
	}
	md, _ := json.Marshal(hashes)
	sum := sha256.Sum256(stream)
	snap := &abci.Snapshot{Height: uint64(meta.Height), Format: SnapshotFormat, Chunks: uint32(len(hashes)), Hash: sum[:], Metadata: md}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeAtomic(s.path(meta.Height, ".snap"), stream); err != nil {
		return nil, err
	}
	info, _ := json.Marshal(snap)
	if err := writeAtomic(s.path(meta.Height, ".json"), info); err != nil {
		return nil, err
	}
	return snap, s.prune()
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// list returns the snapshots on disk, newest first.
func (s *Snapshots) list() ([]*abci.Snapshot, error) {
	names, err := filepath.Glob(filepath.Join(s.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*abci.Snapshot
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		var snap abci.Snapshot
		if json.Unmarshal(raw, &snap) == nil {
			out = append(out, &snap)
		}
	}
	slices.SortFunc(out, func(a, b *abci.Snapshot) int { return int(int64(b.Height) - int64(a.Height)) })
	return out, nil
}

func (s *Snapshots) prune() error {
	snaps, err := s.list()
	if err != nil {
		return err
	}
	for i, snap := range snaps {
		if int64(i) >= max(1, s.KeepRecent) {
			os.Remove(s.path(int64(snap.Height), ".json"))
			os.Remove(s.path(int64(snap.Height), ".snap"))
		}
	}
	return nil
}

// chunk reads one chunk of a snapshot.
func (s *Snapshots) chunk(height int64, index int) ([]byte, error) {
	f, err := os.Open(s.path(height, ".snap"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, SnapshotChunkBytes)
	n, err := f.ReadAt(buf, int64(index)*int64(SnapshotChunkBytes))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}

// restoring is a snapshot being applied.
type restoring struct {
	snap    *abci.Snapshot
	appHash []byte
	hashes  [][]byte
	chunks  [][]byte
	have    int
}

// ListSnapshots lists the snapshots this node can serve.
func (a *App) ListSnapshots(context.Context, *abci.ListSnapshotsRequest) (*abci.ListSnapshotsResponse, error) {
	if a.Snapshots == nil {
		return &abci.ListSnapshotsResponse{}, nil
	}
	snaps, err := a.Snapshots.list()
	if err != nil {
		return nil, err
	}
	return &abci.ListSnapshotsResponse{Snapshots: snaps}, nil
}

// LoadSnapshotChunk serves one chunk of a snapshot.
func (a *App) LoadSnapshotChunk(_ context.Context, req *abci.LoadSnapshotChunkRequest) (*abci.LoadSnapshotChunkResponse, error) {
	if a.Snapshots == nil || req.Format != SnapshotFormat {
		return &abci.LoadSnapshotChunkResponse{}, nil
	}
	c, err := a.Snapshots.chunk(int64(req.Height), int(req.Chunk))
	if err != nil {
		a.log.Warn("snapshot chunk", "height", req.Height, "chunk", req.Chunk, "err", err)
		return &abci.LoadSnapshotChunkResponse{}, nil
	}
	return &abci.LoadSnapshotChunkResponse{Chunk: c}, nil
}

// OfferSnapshot takes a snapshot to restore, when this node has no state
// yet and knows its format.
func (a *App) OfferSnapshot(_ context.Context, req *abci.OfferSnapshotRequest) (*abci.OfferSnapshotResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	reject := func(r abci.OfferSnapshotResult) (*abci.OfferSnapshotResponse, error) {
		return &abci.OfferSnapshotResponse{Result: r}, nil
	}
	switch {
	case req.Snapshot == nil:
		return reject(abci.OFFER_SNAPSHOT_RESULT_REJECT)
	case req.Snapshot.Format != SnapshotFormat:
		return reject(abci.OFFER_SNAPSHOT_RESULT_REJECT_FORMAT)
	case a.state != nil:
		return reject(abci.OFFER_SNAPSHOT_RESULT_ABORT)
	}
	var hashes [][]byte
	if json.Unmarshal(req.Snapshot.Metadata, &hashes) != nil || len(hashes) != int(req.Snapshot.Chunks) || len(hashes) == 0 {
		return reject(abci.OFFER_SNAPSHOT_RESULT_REJECT)
	}
	a.restore = &restoring{snap: req.Snapshot, appHash: req.AppHash, hashes: hashes, chunks: make([][]byte, len(hashes))}
	a.log.Info("restoring a snapshot", "height", req.Snapshot.Height, "chunks", req.Snapshot.Chunks)
	return &abci.OfferSnapshotResponse{Result: abci.OFFER_SNAPSHOT_RESULT_ACCEPT}, nil
}

// ApplySnapshotChunk checks a chunk against the snapshot's list of chunk
// hashes and, with the last, rebuilds the state, checks it hashes to the
// app hash the light client trusts, and persists it.
func (a *App) ApplySnapshotChunk(_ context.Context, req *abci.ApplySnapshotChunkRequest) (*abci.ApplySnapshotChunkResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.restore
	if r == nil || int(req.Index) >= len(r.chunks) {
		return &abci.ApplySnapshotChunkResponse{Result: abci.APPLY_SNAPSHOT_CHUNK_RESULT_ABORT}, nil
	}
	if h := sha256.Sum256(req.Chunk); !bytes.Equal(h[:], r.hashes[req.Index]) {
		a.log.Warn("snapshot chunk does not match its hash", "chunk", req.Index, "sender", req.Sender)
		return &abci.ApplySnapshotChunkResponse{Result: abci.APPLY_SNAPSHOT_CHUNK_RESULT_RETRY,
			RefetchChunks: []uint32{req.Index}, RejectSenders: []string{req.Sender}}, nil
	}
	if r.chunks[req.Index] == nil {
		r.chunks[req.Index] = req.Chunk
		r.have++
	}
	if r.have < len(r.chunks) {
		return &abci.ApplySnapshotChunkResponse{Result: abci.APPLY_SNAPSHOT_CHUNK_RESULT_ACCEPT}, nil
	}
	a.restore = nil
	if err := a.restoreStream(slices.Concat(r.chunks...), r); err != nil {
		a.log.Error("snapshot refused", "height", r.snap.Height, "err", err)
		return &abci.ApplySnapshotChunkResponse{Result: abci.APPLY_SNAPSHOT_CHUNK_RESULT_REJECT_SNAPSHOT}, nil
	}
	a.log.Info("snapshot restored", "height", r.snap.Height, "app_hash", fmt.Sprintf("%X", r.appHash))
	return &abci.ApplySnapshotChunkResponse{Result: abci.APPLY_SNAPSHOT_CHUNK_RESULT_ACCEPT}, nil
}

func (a *App) restoreStream(stream []byte, r *restoring) error {
	if sum := sha256.Sum256(stream); !bytes.Equal(sum[:], r.snap.Hash) {
		return errors.New("the snapshot does not match its hash")
	}
	line, body, ok := bytes.Cut(stream, []byte("\n"))
	var h snapshotHeader
	if !ok || json.Unmarshal(line, &h) != nil || h.Height != int64(r.snap.Height) {
		return errors.New("bad snapshot header")
	}
	entries := make([]contract.KV, 0, h.Entries)
	for len(body) > 0 {
		var kv [2][]byte
		for i := range kv {
			n, w := binary.Uvarint(body)
			if w <= 0 || uint64(len(body)-w) < n {
				return errors.New("truncated snapshot entry")
			}
			kv[i], body = body[w:w+int(n)], body[w+int(n):]
		}
		entries = append(entries, contract.KV{Key: string(kv[0]), Value: bytes.Clone(kv[1])})
	}
	if len(entries) != h.Entries {
		return fmt.Errorf("snapshot has %d entries, its header says %d", len(entries), h.Entries)
	}
	st, err := contract.Load(entries, h.Height, h.MarketTime)
	if err != nil {
		return err
	}
	if got := st.AppHash(); !bytes.Equal(got, r.appHash) || !bytes.Equal(got, h.AppHash) {
		return fmt.Errorf("the restored state hashes to %X, the chain committed %X at height %d", got, r.appHash, h.Height)
	}
	b := a.db.NewBatch()
	defer b.Close()
	for _, e := range entries {
		if err := b.Set([]byte(statePrefix+e.Key), e.Value); err != nil {
			return err
		}
	}
	if err := setMeta(b, h.persistedMeta); err != nil {
		return err
	}
	if err := b.WriteSync(); err != nil {
		return err
	}
	a.setState(st, st.ChainID())
	a.meta = contract.Commitment{Height: h.Height, MarketTime: h.MarketTime, AppHash: h.AppHash}
	a.setAccounts(st.Accounts())
	return nil
}

// snapshotDue says whether a height is one to snapshot.
func (s *Snapshots) due(height int64) bool {
	return s != nil && s.Interval > 0 && height%s.Interval == 0
}
