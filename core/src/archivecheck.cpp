#include "archivecheck.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <regex>
#include <set>
#include <string_view>
#include <vector>

#include "infomax/error.h"

namespace infomax {

namespace {

[[noreturn]] void refuse(const std::string& origin, const std::string& why) {
  throw Error(origin + ": corrupt tensor archive (" + why + ")");
}

// Little-endian field of n bytes at `at`; the caller has checked the range.
std::uint64_t le(const std::string& b, std::uint64_t at, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

// Deflate never expands more than 1032:1 (a 258-byte match per 2 bits), so a compressed record
// claiming more than that is lying about its size.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

}  // namespace

ArchiveDirectory checkArchiveDirectory(const std::string& b, const std::string& origin) {
  const std::uint64_t size = b.size();
  auto fits = [&](std::uint64_t at, std::uint64_t n) { return at <= size && n <= size - at; };
  auto fail = [&](const std::string& why) { refuse(origin, why); };

  // End of central directory: OutputArchive writes no comment, so it is the last 22 bytes;
  // miniz takes the last signature it finds, which is then this one.
  if (size < 22 || le(b, size - 22, 4) != 0x06054b50 || le(b, size - 2, 2) != 0)
    fail("no zip directory at the end");
  const std::uint64_t eocd = size - 22;
  std::uint64_t entries = le(b, eocd + 10, 2);
  std::uint64_t dirSize = le(b, eocd + 12, 4);
  std::uint64_t dirAt = le(b, eocd + 16, 4);
  if (le(b, eocd + 4, 2) != 0 || le(b, eocd + 6, 2) != 0 || le(b, eocd + 8, 2) != entries)
    fail("multi-disk zip");
  // A zip64 locator right before it makes miniz take the counts from the zip64 record (which
  // PyTorchStreamWriter always writes).
  if (eocd >= 20 && le(b, eocd - 20, 4) == 0x07064b50) {
    const std::uint64_t z64 = le(b, eocd - 20 + 8, 8);
    if (!fits(z64, 56) || z64 + 56 > eocd - 20 || le(b, z64, 4) != 0x06064b50)
      fail("bad zip64 directory record");
    entries = le(b, z64 + 32, 8);
    if (le(b, z64 + 24, 8) != entries) fail("multi-disk zip");
    dirSize = le(b, z64 + 40, 8);
    dirAt = le(b, z64 + 48, 8);
  }
  if (!fits(dirAt, dirSize) || entries == 0 || entries > dirSize / 46)
    fail("zip directory of " + std::to_string(entries) + " records, " + std::to_string(dirSize) +
         " bytes at " + std::to_string(dirAt) + " does not fit");

  // The records OutputArchive writes, relative to the archive folder.
  static const std::regex kRecord(
      R"(version|data\.pkl|constants\.pkl|data/[0-9]{1,9})"
      R"(|code/__torch__(/___torch_mangle_[0-9]{1,6})?\.py(\.debug_pkl)?)");
  ArchiveDirectory dir;
  std::set<std::string> seen;  // lower-cased: miniz looks names up ignoring case
  std::uint64_t p = dirAt;
  const std::uint64_t dirEnd = dirAt + dirSize;
  for (std::uint64_t i = 0; i < entries; ++i) {
    if (p + 46 > dirEnd || le(b, p, 4) != 0x02014b50)
      fail("bad zip directory entry " + std::to_string(i));
    const std::uint64_t flags = le(b, p + 8, 2), method = le(b, p + 10, 2);
    const std::uint64_t packed = le(b, p + 20, 4), unpacked = le(b, p + 24, 4);
    const std::uint64_t nameLen = le(b, p + 28, 2), extraLen = le(b, p + 30, 2),
                        commentLen = le(b, p + 32, 2), localAt = le(b, p + 42, 4);
    const std::uint64_t next = p + 46 + nameLen + extraLen + commentLen;
    if (next > dirEnd) fail("bad zip directory entry " + std::to_string(i));
    std::string name = b.substr(p + 46, nameLen);
    p = next;
    for (char& c : name)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    if (i == 0) {
      const auto slash = name.find('/');
      if (slash == 0 || slash == std::string::npos) fail("record " + name + " is not in a folder");
      dir.folder = name.substr(0, slash);
    }
    if (name.compare(0, dir.folder.size() + 1, dir.folder + "/") != 0)
      fail("record " + name + " is outside " + dir.folder + "/");
    const std::string rel = name.substr(dir.folder.size() + 1);
    if (!std::regex_match(rel, kRecord)) fail("unexpected record " + name);
    std::string lower = name;
    for (char& c : lower)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!seen.insert(lower).second) fail("duplicate record " + name);

    if (packed == 0xffffffffu || unpacked == 0xffffffffu || localAt == 0xffffffffu)
      fail("record " + name + " has zip64 sizes (records over 4 GB are not supported)");
    if (flags & 1) fail("record " + name + " is encrypted");
    const bool isCode = rel.size() > 3 && rel.compare(rel.size() - 3, 3, ".py") == 0;
    if (method == 0) {
      if (unpacked != packed)
        fail("stored record " + name + " claims " + std::to_string(unpacked) + " bytes in " +
             std::to_string(packed));
    } else if (method == 8 && isCode) {
      if (unpacked > kMaxDeflateRatio * (packed + 1))
        fail("compressed record " + name + " claims " + std::to_string(unpacked) + " bytes from " +
             std::to_string(packed));
    } else {
      fail("record " + name + " uses compression method " + std::to_string(method));
    }
    if (!fits(localAt, 30) || le(b, localAt, 4) != 0x04034b50)
      fail("record " + name + " has no local header");
    const std::uint64_t dataAt = localAt + 30 + le(b, localAt + 26, 2) + le(b, localAt + 28, 2);
    if (!fits(dataAt, packed))
      fail("record " + name + " (" + std::to_string(packed) + " bytes at " +
           std::to_string(dataAt) + ") reaches past the end of the archive");
    dir.sizes[rel] = unpacked;
  }
  for (const char* required : {"version", "data.pkl", "constants.pkl"})
    if (!dir.sizes.count(required)) fail("no record " + dir.folder + "/" + required);
  return dir;
}

namespace {

// One value on the checker's pickle stack: what LibTorch's unpickler would build, without data.
struct PValue;
using PRef = std::shared_ptr<const PValue>;
struct PValue {
  enum class Kind {
    Int,
    Float,
    Bool,
    None,
    Str,
    Bytes,
    Tuple,
    List,
    Dict,
    Object,
    Tensor,
    Storage,        // a persistent-id storage: num = element count, itemSize
    StorageType,    // GLOBAL torch.<Type>Storage: itemSize
    ModuleClass,    // GLOBAL __torch__[.___torch_mangle_N].Module
    RebuildTensor,  // GLOBAL torch._utils._rebuild_tensor_v2
    OrderedDict,    // GLOBAL collections.OrderedDict
  };
  Kind kind;
  std::int64_t num = 0;
  std::int64_t itemSize = 0;
  std::string text;
  std::vector<PRef> items;
  int depth = 0;  // nesting of tuples
};
using Kind = PValue::Kind;
constexpr int kMaxDepth = 32;  // OutputArchive nests 4 deep (module, tensor arguments, sizes)

PRef make(Kind k, std::int64_t num = 0) {
  auto v = std::make_shared<PValue>();
  v->kind = k;
  v->num = num;
  return v;
}

// Element sizes of the storage types LibTorch's unpickler resolves (torch.<Name>Storage).
std::int64_t storageItemSize(const std::string& name) {
  static const std::map<std::string, std::int64_t> kSizes = {
      {"FloatStorage", 4},    {"DoubleStorage", 8},       {"HalfStorage", 2},
      {"BFloat16Storage", 2}, {"LongStorage", 8},         {"IntStorage", 4},
      {"ShortStorage", 2},    {"CharStorage", 1},         {"ByteStorage", 1},
      {"BoolStorage", 1},     {"ComplexFloatStorage", 8}, {"ComplexDoubleStorage", 16},
  };
  const auto it = kSizes.find(name);
  return it == kSizes.end() ? 0 : it->second;
}

// The pickle machine of LibTorch 1.13's Unpickler (protocol 2), run on kinds instead of values.
// Python's rule that an opcode only sees the stack above the last MARK is enforced: LibTorch's
// own unpickler does not check it and indexes out of range when it is broken.
class PickleChecker {
 public:
  PickleChecker(const char* data, std::size_t size, const std::string& record,
                const std::string& tensorFolder, const ArchiveDirectory& dir,
                const std::string& origin)
      : m_data(data),
        m_size(size),
        m_record(record),
        m_tensorFolder(tensorFolder),
        m_dir(dir),
        m_origin(origin) {}

  void run() {
    if (byte() != 0x80 || byte() != 2) fail("not a protocol 2 pickle");
    for (;;) {
      m_opAt = m_pos;
      const unsigned op = byte();
      if (op == '.') break;  // STOP
      step(op);
    }
    if (!m_marks.empty() || m_stack.size() != 1)
      fail("STOP leaves " + std::to_string(m_stack.size()) + " values and " +
           std::to_string(m_marks.size()) + " marks");
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    refuse(m_origin, m_record + " byte " + std::to_string(m_opAt) + ": " + why);
  }

  const char* take(std::uint64_t n) {
    if (n > m_size - m_pos) fail("truncated (no STOP)");
    const char* p = m_data + m_pos;
    m_pos += n;
    return p;
  }
  std::uint64_t le(int n) {
    const char* p = take(n);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return v;
  }
  unsigned byte() { return static_cast<unsigned>(le(1)); }
  std::string line() {
    const char* start = m_data + m_pos;
    const void* nl = std::memchr(start, '\n', m_size - m_pos);
    if (!nl) fail("GLOBAL name without end of line");
    const std::size_t n = static_cast<const char*>(nl) - start;
    m_pos += n + 1;
    return std::string(start, n);
  }

  // Values above the innermost mark, which the next opcode may consume.
  std::size_t frame() const { return m_stack.size() - (m_marks.empty() ? 0 : m_marks.back()); }
  void need(std::size_t n, const char* opName) const {
    if (frame() < n)
      fail(std::string(opName) + " needs " + std::to_string(n) + " values, the stack holds " +
           std::to_string(frame()));
  }
  PRef pop() {
    PRef v = m_stack.back();
    m_stack.pop_back();
    return v;
  }
  std::size_t popMark(const char* opName) {
    if (m_marks.empty()) fail(std::string(opName) + " without MARK");
    const std::size_t start = m_marks.back();
    m_marks.pop_back();
    return start;
  }
  void expect(const PRef& v, Kind k, const char* what) const {
    if (v->kind != k) fail(std::string(what) + " has the wrong type");
  }

  void put(std::uint64_t index) {
    need(1, "PUT");
    if (index > m_memo.size())
      fail("memo index " + std::to_string(index) + " out of range (memo holds " +
           std::to_string(m_memo.size()) + ")");
    if (index == m_memo.size())
      m_memo.push_back(m_stack.back());
    else
      m_memo[index] = m_stack.back();
  }
  void get(std::uint64_t index) {
    if (index >= m_memo.size())
      fail("memo index " + std::to_string(index) + " out of range (memo holds " +
           std::to_string(m_memo.size()) + ")");
    m_stack.push_back(m_memo[index]);
  }
  void pushText(Kind k, std::uint64_t length) {
    auto v = std::make_shared<PValue>();
    v->kind = k;
    if (length > m_size - m_pos)
      fail("length " + std::to_string(length) + " but " + std::to_string(m_size - m_pos) +
           " bytes left");
    v->text.assign(take(length), length);
    m_stack.push_back(std::move(v));
  }
  void tuple(std::size_t start) {
    auto v = std::make_shared<PValue>();
    v->kind = Kind::Tuple;
    v->items.assign(m_stack.begin() + start, m_stack.end());
    for (const PRef& item : v->items) v->depth = std::max(v->depth, item->depth + 1);
    // LibTorch's values (and these) are freed recursively: deep nesting would overflow the stack.
    if (v->depth > kMaxDepth) fail("tuples nested deeper than " + std::to_string(kMaxDepth));
    m_stack.resize(start);
    m_stack.push_back(std::move(v));
  }
  // SETITEMS / DICT: key-value pairs from start to the top; keys are attribute names.
  void pairs(std::size_t start) {
    if ((m_stack.size() - start) % 2) fail("dictionary items without a value");
    for (std::size_t i = start; i < m_stack.size(); i += 2)
      expect(m_stack[i], Kind::Str, "dictionary key");
    m_stack.resize(start);
  }

  void global() {
    const std::string module = line(), name = line();
    static const std::regex kModuleClass(R"(__torch__(\.___torch_mangle_[0-9]{1,6})?)");
    PRef v;
    if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      v = make(Kind::RebuildTensor);
    } else if (module == "collections" && name == "OrderedDict") {
      v = make(Kind::OrderedDict);
    } else if (module == "torch" && storageItemSize(name) > 0) {
      auto s = std::make_shared<PValue>();
      s->kind = Kind::StorageType;
      s->itemSize = storageItemSize(name);
      v = s;
    } else if (name == "Module" && std::regex_match(module, kModuleClass)) {
      v = make(Kind::ModuleClass);
    } else {
      std::string shown = module.substr(0, 64) + "." + name.substr(0, 64);
      for (char& c : shown)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
      fail("unexpected global " + shown);
    }
    m_stack.push_back(std::move(v));
  }

  // BINPERSID ('storage', <Type>Storage, key, device, element count): LibTorch reads the record
  // <tensorFolder><key> and declares it to hold count x itemsize bytes.
  void persistentId() {
    need(1, "BINPERSID");
    const PRef id = pop();
    expect(id, Kind::Tuple, "persistent id");
    if (id->items.size() != 5 || id->items[0]->kind != Kind::Str || id->items[0]->text != "storage")
      fail("persistent id is not a storage");
    const PValue& type = *id->items[1];
    const PValue& key = *id->items[2];
    expect(id->items[1], Kind::StorageType, "storage type");
    expect(id->items[2], Kind::Str, "storage key");
    expect(id->items[3], Kind::Str, "storage device");
    expect(id->items[4], Kind::Int, "storage size");
    const std::int64_t count = id->items[4]->num;
    if (count < 0) fail("storage of " + std::to_string(count) + " elements");
    if (count > 0) {
      const auto it = m_dir.sizes.find(m_tensorFolder + key.text);
      if (it == m_dir.sizes.end()) fail("storage " + key.text.substr(0, 64) + " has no record");
      if (static_cast<std::uint64_t>(count) > it->second / type.itemSize)
        fail("storage " + key.text + " of " + std::to_string(count) + " x " +
             std::to_string(type.itemSize) + " bytes in a record of " + std::to_string(it->second));
    }
    auto s = std::make_shared<PValue>();
    s->kind = Kind::Storage;
    s->num = count;
    s->itemSize = type.itemSize;
    m_stack.push_back(std::move(s));
  }

  // _rebuild_tensor_v2(storage, offset, sizes, strides, requires_grad, hooks): LibTorch sets the
  // view without checking it against the storage; reading the tensor would then read past it.
  PRef rebuildTensor(const PRef& args) {
    expect(args, Kind::Tuple, "tensor arguments");
    const auto& a = args->items;
    if (a.size() != 6) fail("tensor with " + std::to_string(a.size()) + " arguments");
    expect(a[0], Kind::Storage, "tensor storage");
    expect(a[1], Kind::Int, "tensor offset");
    expect(a[2], Kind::Tuple, "tensor sizes");
    expect(a[3], Kind::Tuple, "tensor strides");
    expect(a[4], Kind::Bool, "tensor requires_grad");
    const std::int64_t storage = a[0]->num, offset = a[1]->num;
    const auto& sizes = a[2]->items;
    const auto& strides = a[3]->items;
    if (sizes.size() != strides.size() || sizes.size() > 64)
      fail("tensor sizes and strides differ");
    if (offset < 0 || offset > storage)
      fail("tensor offset " + std::to_string(offset) + " outside its storage");
    // Elements and the last one's index, in 128 bits so no product of two 64-bit values
    // overflows; both stop growing once past the storage, so no sum does either.
    __int128 elements = 1, last = offset;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      expect(sizes[i], Kind::Int, "tensor size");
      expect(strides[i], Kind::Int, "tensor stride");
      const std::int64_t n = sizes[i]->num, stride = strides[i]->num;
      if (n < 0 || stride < 0) fail("negative tensor size or stride");
      if (n == 0) elements = 0;
      if (elements > storage) continue;
      elements *= n;
      last = std::min<__int128>(last + static_cast<__int128>(n > 0 ? n - 1 : 0) * stride, storage);
    }
    if (elements > 0 && (elements > storage || last >= storage))
      fail("tensor view reaches past its storage of " + std::to_string(storage) + " elements");
    return make(Kind::Tensor);
  }

  // REDUCE and BUILD: LibTorch treats both as calling the global below the argument.
  void call(const char* opName) {
    need(2, opName);
    const PRef arg = pop();
    const PRef fn = pop();
    switch (fn->kind) {
      case Kind::RebuildTensor:
        m_stack.push_back(rebuildTensor(arg));
        break;
      case Kind::OrderedDict:
        expect(arg, Kind::Tuple, "OrderedDict arguments");
        m_stack.push_back(make(Kind::None));
        break;
      case Kind::ModuleClass:
        expect(arg, Kind::Dict, "module state");
        m_stack.push_back(make(Kind::Object));
        break;
      default:
        fail(std::string(opName) + " on something that is not a known global");
    }
  }

  void step(unsigned op) {
    switch (op) {
      case '(':  // MARK
        m_marks.push_back(m_stack.size());
        break;
      case 'N':  // NONE
        m_stack.push_back(make(Kind::None));
        break;
      case 0x88:  // NEWTRUE
        m_stack.push_back(make(Kind::Bool, 1));
        break;
      case 0x89:  // NEWFALSE
        m_stack.push_back(make(Kind::Bool, 0));
        break;
      case 'K':  // BININT1
        m_stack.push_back(make(Kind::Int, static_cast<std::int64_t>(le(1))));
        break;
      case 'M':  // BININT2
        m_stack.push_back(make(Kind::Int, static_cast<std::int64_t>(le(2))));
        break;
      case 'J':  // BININT
        m_stack.push_back(
            make(Kind::Int, static_cast<std::int32_t>(static_cast<std::uint32_t>(le(4)))));
        break;
      case 0x8a: {  // LONG1: LibTorch reads only 8-byte ones
        const unsigned n = byte();
        if (n != 8) fail("LONG1 of " + std::to_string(n) + " bytes");
        m_stack.push_back(make(Kind::Int, static_cast<std::int64_t>(le(8))));
        break;
      }
      case 'G':  // BINFLOAT
        take(8);
        m_stack.push_back(make(Kind::Float));
        break;
      case 'X':  // BINUNICODE
        pushText(Kind::Str, le(4));
        break;
      case 0x8c:  // SHORT_BINUNICODE
        pushText(Kind::Str, le(1));
        break;
      case 0x8d:  // BINUNICODE8
        pushText(Kind::Str, le(8));
        break;
      case 'B':  // BINBYTES
        pushText(Kind::Bytes, le(4));
        break;
      case 'C':  // SHORT_BINBYTES
        pushText(Kind::Bytes, le(1));
        break;
      case 0x8e:  // BINBYTES8
        pushText(Kind::Bytes, le(8));
        break;
      case ')':  // EMPTY_TUPLE
        m_stack.push_back(make(Kind::Tuple));
        break;
      case ']':  // EMPTY_LIST
        m_stack.push_back(make(Kind::List));
        break;
      case '}':  // EMPTY_DICT
        m_stack.push_back(make(Kind::Dict));
        break;
      case 't':  // TUPLE
        tuple(popMark("TUPLE"));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const std::size_t n = op - 0x84;
        need(n, "TUPLEn");
        tuple(m_stack.size() - n);
        break;
      }
      case 'l': {  // LIST
        const std::size_t start = popMark("LIST");
        m_stack.resize(start);
        m_stack.push_back(make(Kind::List));
        break;
      }
      case 'a':  // APPEND
        need(2, "APPEND");
        pop();
        expect(m_stack.back(), Kind::List, "APPEND target");
        break;
      case 'e': {  // APPENDS: the list is just below the mark
        const std::size_t start = popMark("APPENDS");
        if (start == 0 || m_stack[start - 1]->kind != Kind::List) fail("APPENDS without a list");
        if (start - 1 < (m_marks.empty() ? 0 : m_marks.back())) fail("APPENDS list below a mark");
        m_stack.resize(start);
        break;
      }
      case 'd': {  // DICT
        const std::size_t start = popMark("DICT");
        pairs(start);
        m_stack.push_back(make(Kind::Dict));
        break;
      }
      case 's':  // SETITEM
        need(3, "SETITEM");
        expect(m_stack[m_stack.size() - 3], Kind::Dict, "SETITEM target");
        pairs(m_stack.size() - 2);
        break;
      case 'u': {  // SETITEMS: the dictionary is just below the mark
        const std::size_t start = popMark("SETITEMS");
        if (start == 0 || m_stack[start - 1]->kind != Kind::Dict)
          fail("SETITEMS without a dictionary");
        if (start - 1 < (m_marks.empty() ? 0 : m_marks.back()))
          fail("SETITEMS dictionary below a mark");
        pairs(start);
        break;
      }
      case 'q':  // BINPUT
        put(le(1));
        break;
      case 'r':  // LONG_BINPUT
        put(le(4));
        break;
      case 'h':  // BINGET
        get(le(1));
        break;
      case 'j':  // LONG_BINGET
        get(le(4));
        break;
      case 'c':  // GLOBAL
        global();
        break;
      case 0x81:  // NEWOBJ: LibTorch drops the (empty) argument tuple
        need(2, "NEWOBJ");
        expect(m_stack.back(), Kind::Tuple, "NEWOBJ arguments");
        expect(m_stack[m_stack.size() - 2], Kind::ModuleClass, "NEWOBJ class");
        pop();
        break;
      case 'R':
        call("REDUCE");
        break;
      case 'b':
        call("BUILD");
        break;
      case 'Q':  // BINPERSID
        persistentId();
        break;
      default: {
        static const char* kHex = "0123456789abcdef";
        fail(std::string("unknown opcode 0x") + kHex[op >> 4] + kHex[op & 15]);
      }
    }
  }

  const char* m_data;
  std::size_t m_size;
  std::size_t m_pos = 0, m_opAt = 0;
  const std::string& m_record;
  const std::string& m_tensorFolder;
  const ArchiveDirectory& m_dir;
  const std::string& m_origin;
  std::vector<PRef> m_stack;
  std::vector<std::size_t> m_marks;
  std::vector<PRef> m_memo;
};

}  // namespace

void checkArchivePickle(const char* data, std::size_t size, const std::string& record,
                        const std::string& tensorFolder, const ArchiveDirectory& directory,
                        const std::string& origin) {
  PickleChecker(data, size, record, tensorFolder, directory, origin).run();
}

bool isPlainDebugRecord(const char* data, std::size_t size) {
  // ('FORMAT_WITH_STRING_TABLE', ('',), ((0, (build_intlist([]), 0, 0), 0),)), as LibTorch 1.13
  // pickles the source ranges of code it generated itself.
  static constexpr char kPlain[] =
      "\x80\x02X\x18\0\0\0FORMAT_WITH_STRING_TABLEq\0X\0\0\0\0q\x01\x85q\x02K\0"
      "ctorch.jit._pickle\nbuild_intlist\nq\x03(]("
      "etRK\0K\0\x87q\x04K\0K\0\x87K\0\x87\x85q\x05\x87.";
  static_assert(sizeof kPlain == 107);
  return std::string_view(data, size) == std::string_view(kPlain, sizeof kPlain - 1);
}

}  // namespace infomax
