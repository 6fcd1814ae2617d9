package memstore_test

import (
	"testing"

	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/catalogtest"
	"github.com/tarnhq/tarn/catalog/memstore"
)

func TestStore_Conformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Store { return memstore.New() })
}
