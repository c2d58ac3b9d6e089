# language: da
Egenskab: Juristens godkendelse af regelsamlingen gælder filerne, som de stod
  Juristen godkender regelsamlingen, som den står: hvert scenarie, hver regelfil og hver
  samtykketekst med sit SHA-256-fingeraftryk. Ændres en af dem bagefter, bortfalder
  godkendelsen for det, der er ændret, og databeskyttelsesrådgiveren får en alarm om det
  én gang, også når tjenesten ser efter igen og igen. Scenarierne kører mod tjenesten selv
  (consent-service rules verify), og regelsamlingen viser, hvornår hvert scenarie sidst
  bestod.

  Baggrund:
    Givet juristen har godkendt regelsamlingen

  Scenarie: En godkendelse bortfalder, når en regelfil ændres
    Når en regelfil ændres
    Og tjenesten ser efter ændringer i regelsamlingen
    Så er godkendelsen bortfaldet
    Og databeskyttelsesrådgiveren har fået 1 alarm om regelsamlingen
    Når tjenesten ser efter ændringer i regelsamlingen igen
    Så har databeskyttelsesrådgiveren stadig fået 1 alarm om regelsamlingen

  Scenarie: En uændret regelsamling er stadig godkendt
    Når tjenesten ser efter ændringer i regelsamlingen
    Så er godkendelsen stadig gældende
    Og databeskyttelsesrådgiveren har fået 0 alarmer om regelsamlingen
