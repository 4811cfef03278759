// The username word lists of §9, identical to ADJECTIVES and NOUNS in
// src/notalone/protocol/accounts.py: 256 neutral adjectives and 256 nouns (nature, colour,
// weather, texture), 3 to 8 lower-case letters.
export const ADJECTIVES = Object.freeze(`
  able agile airy alpine amber amiable ample apt aqua arctic arid autumn azure balmy beige
  blithe blue bold bouncy brassy breezy bright brisk broad bronze bubbly calm candid chalky
  cheery chilly civic civil classic clean clear clever cloudy coastal cobalt comfy cool
  copper coral cosmic cozy crafty crimson crisp curious dapper dappled daring deft dewy
  dusky dusty eager early earthy easy elfin even fair fancy festive fine firm fleet flinty
  floral fluent fluffy foggy frank free fresh frosty gentle gifted glad glossy glowing
  golden grand grassy green gusty hardy hazy hearty hilly honest humble humid icy indigo
  inky ivory jade jazzy jolly jovial joyful keen kind kindly lavish leafy lemony light
  lilac lilting limber lively loamy lofty loyal lucid lucky lunar magic marine maroon
  mellow merry mighty mild minty misty modest mosaic mossy muted nautical neat nifty nimble
  noble nordic oaken olive open orange oval pastel patient pebbly peppy piney placid plaid
  plain plucky plush pointy poised polar polite prime proud purple quaint quick quiet
  quirky radiant rainy rapid rare ready regal rhythmic robust rocky roomy rosy round royal
  ruby rugged rural russet rustic saffron salty sandy savvy scarlet scenic sepia serene
  shady shiny silver simple sincere sleek smoky smooth snappy snowy snug soft solar solid
  sonic sparkly speedy sporty spry starry steady stellar still stony stripy sturdy subtle
  summery sunlit sunny swift tangy tartan tawny tidal tidy tiny toasty topaz tranquil
  tropical true tweedy unique upbeat urban valiant vast verdant vernal vivid warm wavy
  windy winged wintry wise witty wooden woolly woven zealous zesty zippy
`.trim().split(/\s+/));

export const NOUNS = Object.freeze(`
  acorn alder almond anchor antelope apple apricot aspen aster atlas aurora avocado badger
  bamboo banjo barley basil bay beacon beetle birch bison blossom bluebell boulder bracken
  bramble breeze brook buffalo cactus camel canary canoe canyon cardinal caribou cascade
  catkin cedar cello chalk chestnut cicada cinnamon citrus cliff cloud clover cobble cocoa
  coconut comet compass condor cosmos cotton coyote crane creek cricket crocus crystal
  cypress dahlia daisy delta dewdrop dolphin dove dune eagle egret elk elm ember falcon
  feather fennel fern fig finch firefly fjord flamingo flint forest garnet gazelle gecko
  geyser ginger glacier glade glen gorge granite grape grove gull harbor hare hazel
  hedgehog hemlock heron hickory hill holly horizon ibis iguana iris island ivy jackdaw
  jasper jay juniper kayak kelp kestrel kite kiwi koala lagoon lake lantern larch lark
  laurel lavender lemon lichen lily linden llama lotus lynx magpie mallard manatee mango
  maple marble marigold marsh meadow meerkat mesa meteor minnow mistral moose moss moth
  narwhal nebula nectar newt nightjar nutmeg oak oasis ocelot octopus opal orchid oriole
  osprey otter owl panda papaya peak pebble pecan pelican penguin peony petal pigeon pine
  pinecone plum pond poppy prairie puffin pumpkin quail quartz quill quince rabbit rainbow
  raven ravine reed reef rhubarb ridge river robin rowan salmon sapling seagull sequoia
  shell shore sierra sorrel sparrow spruce squirrel starling stone stork stream summit swan
  sycamore tapir thistle thrush thyme tide tiger timber tortoise toucan trail trout truffle
  tulip tundra turtle valley violet vireo waffle walnut walrus warbler wave wheat willow
  wombat wren yak yarrow yew zebra zephyr zinnia
`.trim().split(/\s+/));
