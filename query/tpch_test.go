package query_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// tpchTables generates a small deterministic TPC-H-shaped data set (about
// scale factor 0.01) with DuckDB's own SQL: keys, joins, value domains
// and date rules follow the specification closely enough that the 22
// queries return rows; pseudo-random choices come from hash(). Each table
// is written as Parquet files (lineitem and orders in four parts) and the
// file paths are returned per table.
func tpchTables(t *testing.T, dir string) map[string][]string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const (
		suppliers = 100
		parts     = 2000
		customers = 1500
		orders    = 15000
	)
	pick := func(list, seed string) string { // a list element chosen by hash
		return fmt.Sprintf("(%s)[1 + (hash(%s) %% len(%s))::INTEGER]", list, seed, list)
	}
	stmts := []string{
		`CREATE TABLE region AS SELECT * FROM (VALUES (0, 'AFRICA'), (1, 'AMERICA'), (2, 'ASIA'), (3, 'EUROPE'), (4, 'MIDDLE EAST'))
			r(r_regionkey, r_name), LATERAL (SELECT 'region ' || r_name AS r_comment)`,
		`CREATE TABLE nation AS SELECT n_nationkey::BIGINT AS n_nationkey, n_name, n_regionkey::BIGINT AS n_regionkey, 'nation ' || n_name AS n_comment
			FROM (VALUES (0,'ALGERIA',0),(1,'ARGENTINA',1),(2,'BRAZIL',1),(3,'CANADA',1),(4,'EGYPT',4),(5,'ETHIOPIA',0),
			(6,'FRANCE',3),(7,'GERMANY',3),(8,'INDIA',2),(9,'INDONESIA',2),(10,'IRAN',4),(11,'IRAQ',4),(12,'JAPAN',2),
			(13,'JORDAN',4),(14,'KENYA',0),(15,'MOROCCO',0),(16,'MOZAMBIQUE',0),(17,'PERU',1),(18,'CHINA',2),(19,'ROMANIA',3),
			(20,'SAUDI ARABIA',4),(21,'VIETNAM',2),(22,'RUSSIA',3),(23,'UNITED KINGDOM',3),(24,'UNITED STATES',1)) n(n_nationkey, n_name, n_regionkey)`,
		fmt.Sprintf(`CREATE TABLE supplier AS SELECT k AS s_suppkey, 'Supplier#' || lpad(k::VARCHAR, 9, '0') AS s_name,
			'addr' || hash(k, 'sa') %% 1000 AS s_address, (hash(k, 'sn') %% 25)::BIGINT AS s_nationkey,
			(10 + hash(k, 'sn') %% 25)::VARCHAR || '-' || lpad((hash(k, 'sp') %% 1000)::VARCHAR, 3, '0') AS s_phone,
			((hash(k, 'sb') %% 1100000)::BIGINT - 100000)::DECIMAL(15,2) / 100 AS s_acctbal,
			CASE WHEN k %% 20 = 0 THEN 'slyly Customer even Complaints' ELSE 'quiet deposits ' || k END AS s_comment
			FROM range(1, %d) r(k)`, suppliers+1),
		fmt.Sprintf(`CREATE TABLE part AS SELECT k AS p_partkey,
			%s || ' ' || %s || ' ' || %s AS p_name,
			'Manufacturer#' || (1 + hash(k, 'pm') %% 5) AS p_mfgr,
			'Brand#' || (1 + hash(k, 'pm') %% 5) || (1 + hash(k, 'pb') %% 5) AS p_brand,
			%s || ' ' || %s || ' ' || %s AS p_type,
			(1 + hash(k, 'ps') %% 50)::INTEGER AS p_size,
			%s || ' ' || %s AS p_container,
			((90000 + (k / 10) %% 20001 + 100 * (k %% 1000)) / 100.0)::DECIMAL(15,2) AS p_retailprice,
			'part ' || k AS p_comment
			FROM range(1, %d) r(k)`,
			pick("['forest','green','almond','azure','blush','khaki','navy','plum','rose','tan']", "k, 'pn1'"),
			pick("['green','lemon','linen','misty','olive','peru','puff','red','sky','snow']", "k, 'pn2'"),
			pick("['wheat','white','yellow','green','ivory','lace','lawn','gold','dim','cyan']", "k, 'pn3'"),
			pick("['STANDARD','SMALL','MEDIUM','LARGE','ECONOMY','PROMO']", "k, 'pt1'"),
			pick("['ANODIZED','BURNISHED','PLATED','POLISHED','BRUSHED']", "k, 'pt2'"),
			pick("['TIN','NICKEL','BRASS','STEEL','COPPER']", "k, 'pt3'"),
			pick("['SM','LG','MED','JUMBO','WRAP']", "k, 'pc1'"),
			pick("['CASE','BOX','BAG','JAR','PKG','PACK','CAN','DRUM']", "k, 'pc2'"),
			parts+1),
		fmt.Sprintf(`CREATE TABLE partsupp AS SELECT p_partkey AS ps_partkey,
			((p_partkey + i * (%[1]d / 4 + (p_partkey - 1) / %[1]d)) %% %[1]d + 1)::BIGINT AS ps_suppkey,
			(1 + hash(p_partkey, i, 'pa') %% 9999)::INTEGER AS ps_availqty,
			((100 + hash(p_partkey, i, 'pc') %% 99901) / 100.0)::DECIMAL(15,2) AS ps_supplycost,
			'partsupp ' || p_partkey || ' ' || i AS ps_comment
			FROM part, range(4) r(i)`, suppliers),
		fmt.Sprintf(`CREATE TABLE customer AS SELECT k AS c_custkey, 'Customer#' || lpad(k::VARCHAR, 9, '0') AS c_name,
			'caddr' || k AS c_address, (hash(k, 'cn') %% 25)::BIGINT AS c_nationkey,
			(10 + hash(k, 'cn') %% 25)::VARCHAR || '-' || lpad((hash(k, 'cp') %% 1000)::VARCHAR, 3, '0') AS c_phone,
			((hash(k, 'cb') %% 1099999)::BIGINT - 99999)::DECIMAL(15,2) / 100 AS c_acctbal,
			%s AS c_mktsegment, 'customer ' || k AS c_comment
			FROM range(1, %d) r(k)`, pick("['AUTOMOBILE','BUILDING','FURNITURE','MACHINERY','HOUSEHOLD']", "k, 'cs'"), customers+1),
		fmt.Sprintf(`CREATE TABLE lines AS SELECT o AS l_orderkey, n AS l_linenumber,
			(1 + hash(o, n, 'lp') %% %[1]d)::BIGINT AS l_partkey, (hash(o, n, 'ls') %% 4) AS supp_i,
			(1 + hash(o, n, 'lq') %% 50)::DECIMAL(15,2) AS l_quantity,
			((hash(o, n, 'ld') %% 11) / 100.0)::DECIMAL(15,2) AS l_discount,
			((hash(o, n, 'lt') %% 9) / 100.0)::DECIMAL(15,2) AS l_tax,
			DATE '1992-01-01' + (hash(o, 'od') %% 2405)::INTEGER AS o_orderdate,
			(1 + hash(o, n, 'sd') %% 121)::INTEGER AS ship_days, (30 + hash(o, n, 'cd') %% 61)::INTEGER AS commit_days,
			(1 + hash(o, n, 'rd') %% 30)::INTEGER AS receipt_days,
			%[2]s AS l_shipinstruct, %[3]s AS l_shipmode, 'line ' || o || ' ' || n AS l_comment
			FROM range(1, %[4]d) r(o), LATERAL (SELECT range AS n FROM range(1, 2 + (hash(o, 'nl') %% 7)::INTEGER))`,
			parts, pick("['DELIVER IN PERSON','COLLECT COD','NONE','TAKE BACK RETURN']", "o, n, 'si'"),
			pick("['REG AIR','AIR','RAIL','SHIP','TRUCK','MAIL','FOB']", "o, n, 'sm'"), orders+1),
		fmt.Sprintf(`CREATE TABLE lineitem AS SELECT l_orderkey,
			l_partkey, ((l_partkey + supp_i * (%[1]d / 4 + (l_partkey - 1) / %[1]d)) %% %[1]d + 1)::BIGINT AS l_suppkey,
			l_linenumber::INTEGER AS l_linenumber, l_quantity, (l_quantity * p_retailprice)::DECIMAL(15,2) AS l_extendedprice,
			l_discount, l_tax,
			CASE WHEN o_orderdate + ship_days + receipt_days <= DATE '1995-06-17'
				THEN CASE WHEN hash(l_orderkey, l_linenumber, 'rf') %% 2 = 0 THEN 'R' ELSE 'A' END ELSE 'N' END AS l_returnflag,
			CASE WHEN o_orderdate + ship_days > DATE '1995-06-17' THEN 'O' ELSE 'F' END AS l_linestatus,
			o_orderdate + ship_days AS l_shipdate, o_orderdate + commit_days AS l_commitdate,
			o_orderdate + ship_days + receipt_days AS l_receiptdate, l_shipinstruct, l_shipmode, l_comment
			FROM lines JOIN part ON p_partkey = l_partkey ORDER BY l_orderkey, l_linenumber`, suppliers),
		fmt.Sprintf(`CREATE TABLE orders AS SELECT l_orderkey AS o_orderkey,
			(1 + (hash(l_orderkey, 'oc') %% %[1]d) // 3 * 3 + (hash(l_orderkey, 'oc2') %% 2))::BIGINT AS o_custkey,
			CASE WHEN bool_and(l_linestatus = 'F') THEN 'F' WHEN bool_and(l_linestatus = 'O') THEN 'O' ELSE 'P' END AS o_orderstatus,
			sum(l_extendedprice * (1 + l_tax) * (1 - l_discount))::DECIMAL(15,2) AS o_totalprice,
			min(l_shipdate) - 1 AS o_orderdate,
			%[2]s AS o_orderpriority, 'Clerk#' || (hash(l_orderkey, 'ck') %% 1000) AS o_clerk, 0 AS o_shippriority,
			CASE WHEN hash(l_orderkey, 'oc3') %% 10 = 0 THEN 'final special foxes requests' ELSE 'order ' || l_orderkey END AS o_comment
			FROM lineitem GROUP BY l_orderkey ORDER BY l_orderkey`,
			customers-2, pick("['1-URGENT','2-HIGH','3-MEDIUM','4-NOT SPECIFIED','5-LOW']", "l_orderkey, 'op'")),
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("generate: %v\n%s", err, s)
		}
	}
	files := map[string][]string{}
	for _, name := range []string{"region", "nation", "supplier", "part", "partsupp", "customer", "orders", "lineitem"} {
		parts := 1
		if name == "orders" || name == "lineitem" {
			parts = 4
		}
		key := map[string]string{"orders": "o_orderkey", "lineitem": "l_orderkey"}[name]
		for p := 0; p < parts; p++ {
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.parquet", name, p))
			where := ""
			if parts > 1 {
				where = fmt.Sprintf(" WHERE %s %% %d = %d", key, parts, p)
			}
			if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("COPY (SELECT * FROM %s%s) TO '%s' (FORMAT parquet)", name, where, path)); err != nil {
				t.Fatal(err)
			}
			files[name] = append(files[name], path)
		}
	}
	return files
}

// TestEngine_TPCH runs the 22 TPC-H queries through tarn over imported
// tables and through plain DuckDB over the generated files, which is a
// reference computed without tarn, and compares the answers.
func TestEngine_TPCH(t *testing.T) {
	l := newLake(t)
	src := t.TempDir()
	files := tpchTables(t, src)
	for name, paths := range files {
		l.create("main", name, "", paths[0])
		for _, p := range paths[1:] {
			l.append("main", name, p)
		}
	}
	nonEmpty := 0
	for n := 1; n <= 22; n++ {
		name := fmt.Sprintf("q%02d", n)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "tpch", name+".sql"))
			if err != nil {
				t.Fatal(err)
			}
			l.t = t
			got, _ := l.query("main", string(b))
			want := plainDuckDB(t, files, string(b))
			if !sameRows(got, want, true) {
				t.Fatalf("tarn and duckdb differ:\ntarn:   %v\nduckdb: %v", head(got), head(want))
			}
			if len(got) > 0 {
				nonEmpty++
			}
		})
	}
	l.t = t
	if nonEmpty < 20 {
		t.Fatalf("only %d of 22 queries returned rows: the generated data does not exercise them", nonEmpty)
	}
}

func head(rows [][]string) [][]string {
	if len(rows) > 5 {
		return rows[:5]
	}
	return rows
}
