// s3server: a small in-memory S3 for benchmarks, so that a client comparison
// measures the clients and not the server. Path-style addressing, no
// signature checks, one goroutine per connection. It answers PutObject,
// the multipart calls, GetObject (with Range), HeadObject, ListObjectsV2
// (prefix, delimiter, continuation), DeleteObjects, CreateBucket and
// ListBuckets, and counts requests and connections: GET /__stats returns
// them as JSON.
//
// A single PutObject's ETag is the body's MD5 (sync compares it with local
// files); a part's ETag is derived from the upload id and part number, not
// from the bytes, so the server spends no CPU hashing big uploads. A
// multipart object's ETag is therefore "<hex>-N" like S3's, but not S3's value.
//
// With -tls-cert and -tls-key it serves HTTPS (HTTP/1.1 only, as S3 and the
// clients speak it), so that the clients' TLS paths are measured too: there
// the SDKs stream unsigned bodies, aws-chunked with a checksum trailer, which
// body() decodes.
//
//	go build -o s3server . && ./s3server -addr 127.0.0.1:0 -port-file FILE
package main

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type object struct {
	data     []byte
	etag     string
	ctype    string
	modified time.Time
}

type upload struct {
	bucket, key, ctype string
	parts              map[int][]byte
}

type server struct {
	mu       sync.RWMutex
	buckets  map[string]map[string]*object
	uploads  map[string]*upload
	nextID   atomic.Int64
	requests atomic.Int64
	conns    atomic.Int64
	byOp     sync.Map // op name -> *atomic.Int64
}

func (s *server) count(op string) {
	s.requests.Add(1)
	v, _ := s.byOp.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func xmlOut(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	xml.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

type s3error struct {
	XMLName xml.Name `xml:"Error"`
	Code    string
	Message string
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	xmlOut(w, status, s3error{Code: code, Message: msg})
}

// body reads the request body, undoing aws-chunked framing (botocore sends
// its checksum as a trailer that way).
func body(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if d := r.Header.Get("X-Amz-Decoded-Content-Length"); d != "" {
		n, _ = strconv.ParseInt(d, 10, 64)
	}
	if !strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") &&
		r.Header.Get("X-Amz-Content-Sha256") != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" &&
		!strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		buf := make([]byte, 0, max(n, 0))
		b := bytes.NewBuffer(buf)
		_, err := b.ReadFrom(r.Body)
		return b.Bytes(), err
	}
	out := make([]byte, 0, max(n, 0))
	br := bufio.NewReaderSize(r.Body, 1<<16)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 64)
		if err != nil {
			return nil, err
		}
		if size == 0 {
			return out, checkTrailer(r, br, out)
		}
		start := len(out)
		out = append(out, make([]byte, size)...)
		if _, err := io.ReadFull(br, out[start:]); err != nil {
			return nil, err
		}
		br.ReadString('\n')
	}
}

// checkTrailer reads the trailer lines after the last chunk and, for an
// x-amz-checksum-crc32 one, checks it against the decoded body, as S3 does.
func checkTrailer(r *http.Request, br *bufio.Reader, body []byte) error {
	rest, err := io.ReadAll(br)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(rest), "\r\n") {
		name, value, _ := strings.Cut(line, ":")
		if strings.EqualFold(strings.TrimSpace(name), "x-amz-checksum-crc32") {
			var be [4]byte
			binary.BigEndian.PutUint32(be[:], crc32.ChecksumIEEE(body))
			if strings.TrimSpace(value) != base64.StdEncoding.EncodeToString(be[:]) {
				return fmt.Errorf("x-amz-checksum-crc32 trailer %q is not the body's CRC32", value)
			}
		}
	}
	return nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/__stats" {
		s.stats(w)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	w.Header().Set("x-amz-request-id", "bench")
	switch {
	case bucket == "":
		s.count("ListBuckets")
		s.listBuckets(w)
	case key == "" && r.Method == "PUT":
		s.count("CreateBucket")
		s.mu.Lock()
		if s.buckets[bucket] == nil {
			s.buckets[bucket] = map[string]*object{}
		}
		s.mu.Unlock()
	case key == "" && r.Method == "POST" && q.Has("delete"):
		s.count("DeleteObjects")
		s.deleteObjects(w, r, bucket)
	case key == "" && (r.Method == "GET" || r.Method == "HEAD") && (q.Get("list-type") == "2" || r.Method == "GET"):
		s.count("ListObjectsV2")
		s.list(w, r, bucket)
	case key == "":
		s.count("Bucket" + r.Method)
	case r.Method == "POST" && q.Has("uploads"):
		s.count("CreateMultipartUpload")
		s.createUpload(w, r, bucket, key)
	case r.Method == "PUT" && q.Has("uploadId"):
		s.count("UploadPart")
		s.uploadPart(w, r, q)
	case r.Method == "POST" && q.Has("uploadId"):
		s.count("CompleteMultipartUpload")
		s.complete(w, r, bucket, key, q.Get("uploadId"))
	case r.Method == "DELETE" && q.Has("uploadId"):
		s.count("AbortMultipartUpload")
		s.mu.Lock()
		delete(s.uploads, q.Get("uploadId"))
		s.mu.Unlock()
		w.WriteHeader(204)
	case r.Method == "PUT":
		s.count("PutObject")
		s.put(w, r, bucket, key)
	case r.Method == "GET" || r.Method == "HEAD":
		s.count(map[string]string{"GET": "GetObject", "HEAD": "HeadObject"}[r.Method])
		s.get(w, r, bucket, key)
	case r.Method == "DELETE":
		s.count("DeleteObject")
		s.mu.Lock()
		if b := s.buckets[bucket]; b != nil {
			delete(b, key)
		}
		s.mu.Unlock()
		w.WriteHeader(204)
	default:
		fail(w, 405, "MethodNotAllowed", r.Method)
	}
}

func (s *server) stats(w http.ResponseWriter) {
	ops := map[string]int64{}
	s.byOp.Range(func(k, v any) bool { ops[k.(string)] = v.(*atomic.Int64).Load(); return true })
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"requests": s.requests.Load(), "connections": s.conns.Load(), "ops": ops})
}

func (s *server) listBuckets(w http.ResponseWriter) {
	type b struct{ Name, CreationDate string }
	var out struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		Buckets []b      `xml:"Buckets>Bucket"`
	}
	s.mu.RLock()
	for name := range s.buckets {
		out.Buckets = append(out.Buckets, b{name, "2026-01-01T00:00:00.000Z"})
	}
	s.mu.RUnlock()
	xmlOut(w, 200, out)
}

func (s *server) put(w http.ResponseWriter, r *http.Request, bucket, key string) {
	data, err := body(r)
	if err != nil {
		fail(w, 400, "IncompleteBody", err.Error())
		return
	}
	sum := md5.Sum(data)
	o := &object{data, hex.EncodeToString(sum[:]), r.Header.Get("Content-Type"), time.Now()}
	s.mu.Lock()
	b := s.buckets[bucket]
	if b != nil {
		b[key] = o
	}
	s.mu.Unlock()
	if b == nil {
		fail(w, 404, "NoSuchBucket", bucket)
		return
	}
	w.Header().Set("ETag", `"`+o.etag+`"`)
}

func (s *server) lookup(bucket, key string) *object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if b := s.buckets[bucket]; b != nil {
		return b[key]
	}
	return nil
}

// parseRange reads "bytes=a-b", "bytes=a-" and "bytes=-n".
func parseRange(h string, size int64) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, _ := strings.Cut(spec, "-")
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start >= size {
		return 0, 0, false
	}
	end := size - 1
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil {
			return 0, 0, false
		}
		end = min(end, size-1)
	}
	return start, end, start <= end
}

func (s *server) get(w http.ResponseWriter, r *http.Request, bucket, key string) {
	o := s.lookup(bucket, key)
	if o == nil {
		if r.Method == "HEAD" {
			w.WriteHeader(404)
			return
		}
		fail(w, 404, "NoSuchKey", "The specified key does not exist.")
		return
	}
	h := w.Header()
	h.Set("ETag", `"`+o.etag+`"`)
	h.Set("Last-Modified", o.modified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	if o.ctype != "" {
		h.Set("Content-Type", o.ctype)
	} else {
		h.Set("Content-Type", "binary/octet-stream")
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Trim(inm, `"`) == o.etag {
		w.WriteHeader(304)
		return
	}
	size := int64(len(o.data))
	start, end, status := int64(0), size-1, 200
	if rg := r.Header.Get("Range"); rg != "" {
		var ok bool
		if start, end, ok = parseRange(rg, size); !ok {
			fail(w, 416, "InvalidRange", "The requested range is not satisfiable")
			return
		}
		status = 206
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	}
	h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	w.WriteHeader(status)
	if r.Method == "GET" {
		w.Write(o.data[start : end+1])
	}
}

func (s *server) list(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	maxKeys := 1000
	if m, err := strconv.Atoi(q.Get("max-keys")); err == nil && m >= 0 && m < 1000 {
		maxKeys = m
	}
	after := q.Get("start-after")
	if t := q.Get("continuation-token"); t != "" {
		after = t
	}
	s.mu.RLock()
	b := s.buckets[bucket]
	keys := make([]string, 0, len(b))
	for k := range b {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
	if b == nil {
		fail(w, 404, "NoSuchBucket", bucket)
		return
	}
	sort.Strings(keys)
	type content struct {
		Key, LastModified, ETag, StorageClass string
		Size                                  int64
	}
	type cp struct{ Prefix string }
	var out struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Name, Prefix          string
		KeyCount, MaxKeys     int
		IsTruncated           bool
		Contents              []content
		CommonPrefixes        []cp
		NextContinuationToken string `xml:",omitempty"`
	}
	out.Name, out.Prefix, out.MaxKeys = bucket, prefix, maxKeys
	seen := map[string]bool{}
	last := ""
	for _, k := range keys {
		if out.KeyCount >= maxKeys {
			out.IsTruncated = true
			out.NextContinuationToken = last
			break
		}
		last = k
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				p := k[:len(prefix)+i+len(delim)]
				if !seen[p] {
					seen[p] = true
					out.CommonPrefixes = append(out.CommonPrefixes, cp{p})
					out.KeyCount++
				}
				continue
			}
		}
		if o := s.lookup(bucket, k); o != nil {
			out.Contents = append(out.Contents, content{k,
				o.modified.UTC().Format("2006-01-02T15:04:05.000Z"), `"` + o.etag + `"`,
				"STANDARD", int64(len(o.data))})
			out.KeyCount++
		}
	}
	xmlOut(w, 200, out)
}

// readXML decodes the request's XML body into v; on failure it answers 400
// MalformedXML and returns false.
func readXML(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := body(r)
	if err == nil {
		err = xml.Unmarshal(data, v)
	}
	if err != nil {
		fail(w, 400, "MalformedXML", err.Error())
		return false
	}
	return true
}

func (s *server) deleteObjects(w http.ResponseWriter, r *http.Request, bucket string) {
	var in struct {
		Objects []struct{ Key string } `xml:"Object"`
	}
	if !readXML(w, r, &in) {
		return
	}
	type deleted struct{ Key string }
	var out struct {
		XMLName xml.Name `xml:"DeleteResult"`
		Deleted []deleted
	}
	s.mu.Lock()
	for _, o := range in.Objects {
		delete(s.buckets[bucket], o.Key)
		out.Deleted = append(out.Deleted, deleted{o.Key})
	}
	s.mu.Unlock()
	xmlOut(w, 200, out)
}

func (s *server) createUpload(w http.ResponseWriter, r *http.Request, bucket, key string) {
	id := fmt.Sprintf("up%d", s.nextID.Add(1))
	s.mu.Lock()
	s.uploads[id] = &upload{bucket, key, r.Header.Get("Content-Type"), map[int][]byte{}}
	s.mu.Unlock()
	xmlOut(w, 200, struct {
		XMLName               xml.Name `xml:"InitiateMultipartUploadResult"`
		Bucket, Key, UploadId string
	}{Bucket: bucket, Key: key, UploadId: id})
}

func partETag(id string, n int) string {
	sum := md5.Sum([]byte(fmt.Sprintf("%s/%d", id, n)))
	return hex.EncodeToString(sum[:])
}

func (s *server) uploadPart(w http.ResponseWriter, r *http.Request, q map[string][]string) {
	id := q["uploadId"][0]
	n, err := strconv.Atoi(strings.Join(q["partNumber"], ""))
	if err != nil || n < 1 || n > 10000 {
		fail(w, 400, "InvalidArgument", "partNumber")
		return
	}
	data, err := body(r)
	if err != nil {
		fail(w, 400, "IncompleteBody", err.Error())
		return
	}
	s.mu.Lock()
	u := s.uploads[id]
	if u != nil {
		u.parts[n] = data
	}
	s.mu.Unlock()
	if u == nil {
		fail(w, 404, "NoSuchUpload", id)
		return
	}
	w.Header().Set("ETag", `"`+partETag(id, n)+`"`)
}

func (s *server) complete(w http.ResponseWriter, r *http.Request, bucket, key, id string) {
	var in struct {
		Parts []struct{ PartNumber int } `xml:"Part"`
	}
	if !readXML(w, r, &in) {
		return
	}
	s.mu.Lock()
	u := s.uploads[id]
	delete(s.uploads, id)
	s.mu.Unlock()
	if u == nil {
		fail(w, 404, "NoSuchUpload", id)
		return
	}
	total := 0
	for _, p := range in.Parts {
		total += len(u.parts[p.PartNumber])
	}
	all := make([]byte, 0, total)
	h := md5.New()
	for _, p := range in.Parts {
		part, ok := u.parts[p.PartNumber]
		if !ok {
			fail(w, 400, "InvalidPart", strconv.Itoa(p.PartNumber))
			return
		}
		all = append(all, part...)
		h.Write([]byte(partETag(id, p.PartNumber)))
	}
	etag := fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(in.Parts))
	s.mu.Lock()
	if b := s.buckets[bucket]; b != nil {
		b[key] = &object{all, etag, u.ctype, time.Now()}
	}
	s.mu.Unlock()
	xmlOut(w, 200, struct {
		XMLName           xml.Name `xml:"CompleteMultipartUploadResult"`
		Bucket, Key, ETag string
	}{Bucket: bucket, Key: key, ETag: `"` + etag + `"`})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	portFile := flag.String("port-file", "", "write the chosen port here once listening")
	tlsCert := flag.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	tlsKey := flag.String("tls-key", "", "and this key (PEM)")
	flag.Parse()
	if !strings.HasPrefix(*addr, "127.") {
		fmt.Fprintln(os.Stderr, "s3server: listens on 127.0.0.0/8 only")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
	s := &server{buckets: map[string]map[string]*object{}, uploads: map[string]*upload{}}
	hs := &http.Server{Handler: s, ConnState: func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}}
	if *portFile != "" {
		port := ln.Addr().(*net.TCPAddr).Port
		tmp := *portFile + ".tmp"
		os.WriteFile(tmp, []byte(strconv.Itoa(port)), 0o644)
		os.Rename(tmp, *portFile)
	}
	if *tlsCert != "" {
		// a non-nil empty map: no HTTP/2, so every client speaks HTTP/1.1
		hs.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		err = hs.ServeTLS(ln, *tlsCert, *tlsKey)
	} else {
		err = hs.Serve(ln)
	}
	fmt.Fprintln(os.Stderr, "s3server:", err)
	os.Exit(1)
}
